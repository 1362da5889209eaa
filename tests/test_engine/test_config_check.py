"""The rule for ``--cfg-options`` keys and values, the ``type`` check
and the one-line error mechanism (:mod:`mmseg_stunet.engine.config_check`,
:mod:`mmseg_stunet.engine.errors`)."""

import glob
import os.path as osp
import signal
import subprocess
import sys

import pytest
from helpers import tiny_config
from mmengine.config import Config

from mmseg_stunet.engine.config_check import (
    check_cfg_options,
    check_types,
    read_config,
)
from mmseg_stunet.engine.errors import ConfigError, run_tool_main, user_error
from mmseg_stunet.utils.paths import project_root


@pytest.fixture(scope='module')
def cfg() -> Config:
    return Config.fromfile(tiny_config())


ACCEPTED = [
    {'train_cfg.max_iters': 5},  # exists
    {'param_scheduler.0.power': 1.0},  # list item by index
    {'model.decode_head.num_classes': 4},
    {'optim_wrapper.optimizer.lr': 1},  # int for a float
    {'model.backbone.init_cfg': None},  # typed: a constructor arg
    {'model.backbone.frozen_stages': 1},  # typed, via **kwargs chain
    {'model.decode_head.norm_cfg.momentum': 0.01},  # nn.BatchNorm2d arg
    {'model.decode_head.dropout_ratio': 0.0},  # FCNHead -> BaseDecodeHead
    {'train_dataloader.persistent_workers': False},  # DataLoader argument
    {'train_cfg.val_begin': 1},  # IterBasedTrainLoop arg
    {'randomness.seed': 0},  # Runner argument (new)
    {'allow_partial_checkpoint': True},  # read by the project
    {'model.test_cfg.crop_size': [32, 32]},  # free-form dict
    {'default_hooks.timer.type': 'IterTimerHook'},  # new hook by name
    {'train_dataloader.dataset.data_root': '/d', 'data_root': None},
]
REFUSED = [
    ({'train_cfg.max_iter': 5}, ['train_cfg.max_iter', 'train_cfg.max_iters']),
    ({'max_iters': 5}, ['max_iters', 'train_cfg.max_iters']),
    ({'model.backbone.dept': 18}, ['model.backbone.depth']),
    ({'model.decode_head.num_class': 3}, ['model.decode_head.num_classes']),
    ({'test_dataloader.batchsize': 1}, ['test_dataloader.batch_size']),
    ({'train_cfg.max_iters': 'ten'}, ['a number']),
    ({'train_cfg.max_iters': 2.5}, ['whole number']),
    ({'train_dataloader.sampler.shuffle': 1}, ['True or False']),
    ({'param_scheduler.2.power': 1.0}, ['has 1 item']),
    ({'param_scheduler.power': 1.0}, ['is a list', 'param_scheduler.0.power']),
]


@pytest.mark.parametrize('options', ACCEPTED, ids=lambda o: ','.join(o))
def test_cfg_options_accepted(cfg, options):
    check_cfg_options(cfg, options)


@pytest.mark.parametrize(
    'options,words', REFUSED, ids=[','.join(o) for o, _ in REFUSED]
)
def test_cfg_options_refused_naming_the_key(cfg, options, words):
    with pytest.raises(ConfigError) as info:
        check_cfg_options(cfg, options)
    text = str(info.value)
    assert '\n' not in text
    for word in words:
        assert word in text, text


def test_builder_keys_are_taken_by_typed_dicts():
    """``requires_grad`` is mmcv's ``build_norm_layer``'s, not BN's."""
    cfg = Config(
        dict(
            model=dict(
                type='EncoderDecoder',
                backbone=dict(type='ResNetV1c', norm_cfg=dict(type='BN')),
            )
        )
    )
    check_cfg_options(cfg, {'model.backbone.norm_cfg.requires_grad': False})
    with pytest.raises(ConfigError, match='momentum'):
        check_cfg_options(cfg, {'model.backbone.norm_cfg.momentun': 0.1})


def test_every_project_config_passes_the_type_check():
    """No false alarm: every ``type`` of every shipped config is found."""
    paths = sorted(
        glob.glob(
            osp.join(project_root(), 'configs', '**', '*.py'), recursive=True
        )
    )
    assert len(paths) > 20
    for path in paths:
        if '_base_' in path:
            continue
        check_types(Config.fromfile(path), path)


def test_type_check_in_a_fresh_process_finds_types_registered_lazily():
    """In a process where nothing but ``import mmseg_stunet`` ran, the
    check still finds DeformConvV2: it is registered into mmengine's root
    MODELS by a module that only MMSegmentation's MODELS lists as a
    location (the root registry was read before that import: the tools
    refused the demo config)."""
    code = (
        'import glob, sys\n'
        'import mmseg_stunet\n'
        'from mmengine.config import Config\n'
        'from mmseg_stunet.engine.config_check import check_types\n'
        'for p in sorted(glob.glob("configs/**/*.py", recursive=True)):\n'
        '    if "_base_" not in p:\n'
        '        check_types(Config.fromfile(p), p)\n'
        'print("ok")\n'
    )
    proc = subprocess.run(
        [sys.executable, '-c', code],
        cwd=project_root(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and proc.stdout.strip().endswith('ok'), (
        proc.stdout[-2000:]
    )


def test_unknown_type_named_with_its_key(tmp_path):
    path = tmp_path / 'c.py'
    path.write_text(
        f'_base_ = [{tiny_config()!r}]\n'
        'model = dict(decode_head=dict(type="FCNHaed"))\n'
    )
    with pytest.raises(
        ConfigError,
        match=r"model.decode_head.type='FCNHaed'"
        r".*did you mean 'FCNHead'",
    ):
        read_config(str(path))


def test_user_error_names_the_class_a_constructor_refused():
    from mmseg.registry import MODELS

    try:
        MODELS.build(
            dict(
                type='FCNHead',
                in_channels=4,
                channels=4,
                num_classes=2,
                num_convz=1,
            )
        )
    except TypeError as err:
        message = user_error(err)
    assert message.startswith('cannot build FCNHead from the config')
    assert 'num_convz' in message
    assert user_error(TypeError('a bug elsewhere')) is None


def test_run_tool_main_one_line_and_exit_codes(capsys):
    def bad():
        raise ConfigError('first\nsecond')

    with pytest.raises(SystemExit) as info:
        run_tool_main(bad)
    assert info.value.code == 1
    assert capsys.readouterr().err == 'error: first; second\n'

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as info:
        run_tool_main(interrupted)
    assert info.value.code == 130
    assert capsys.readouterr().err == 'error: interrupted (SIGINT)\n'
    assert run_tool_main(lambda: 7) == 7
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored

    def bug():
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        run_tool_main(bug)
