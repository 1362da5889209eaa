"""Causes of warnings a train/test run printed, removed at their source
(the end-to-end check is tests/e2e/test_quiet_run.py)."""

import warnings

import pytest
import torch

from mmseg_stunet.engine.hooks.divergence_hook import _value


@pytest.mark.parametrize(
    'value,expected',
    [
        (torch.tensor(2.5, requires_grad=True), 2.5),  # a loss of the step
        (
            [
                torch.tensor(1.0, requires_grad=True),
                torch.tensor(3.0, requires_grad=True),
            ],
            2.0,
        ),  # a list of losses
        (torch.tensor([1.0, 2.0]), 1.5),
        (4.0, 4.0),
    ],
)
def test_divergence_hook_reads_losses_without_a_warning(value, expected):
    """Was: 'Converting a tensor with requires_grad=True to a scalar may
    lead to unexpected behavior' every training run."""
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert _value(value) == expected


@pytest.mark.parametrize(
    'name',
    [
        'st_unet/st-unet_1xb8-100e_vaihingen-256x256.py',
        'st_unet/st-unet_1xb8-100e_vaihingen-256x256-aug.py',
        'st_unet/st-unet_1xb8-100e_potsdam-256x256.py',
    ],
)
def test_configs_leave_reduce_zero_label_to_the_data_set(name):
    """mmseg deprecates reduce_zero_label on LoadAnnotations (a warning in
    every run); the ISPRS data sets set it (True) and pass it on."""
    from mmengine.config import Config

    from mmseg_stunet.utils.paths import config_path

    cfg = Config.fromfile(config_path(name))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        assert dataset.get('reduce_zero_label', True) is True
        for step in dataset.pipeline:
            if step.type == 'LoadAnnotations':
                assert 'reduce_zero_label' not in step, (name, loader)


def test_runner_silences_the_known_notices(tmp_path):
    """mmseg's tools under mim build CheckedRunner (runner_type) but never
    call the project's silence_known_notices: the runner does (was:
    '``build_loss`` would be deprecated soon' and 'The draw is False' in
    every ``mim train/test mmseg`` run)."""
    from helpers import tiny_config, tiny_data_options, write_shapes_dataset

    from mmseg_stunet.engine.runner import build_runner, load_config

    data = write_shapes_dataset(str(tmp_path / 'data'))
    cfg = load_config(
        tiny_config(), tiny_data_options(data), str(tmp_path / 'work')
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        build_runner(cfg)
    messages = [str(w.message) for w in caught]
    assert not [
        m for m in messages if 'build_loss' in m or 'draw is False' in m
    ], messages
