"""ClassCountCheckHook, as the project's runtime config installs it: a
model whose decode or auxiliary head predicts another number of classes
than the data set has is refused before training or testing, naming both
numbers and both config keys (MMSegmentation trains and scores it with
exit code 0)."""

import glob

import pytest
from helpers import tiny_config, tiny_data_options, write_shapes_dataset

from mmseg_stunet.engine import ConfigError
from mmseg_stunet.engine.runner import build_runner, load_config

AUX = dict(
    type='FCNHead',
    in_channels=64,
    channels=8,
    num_convs=1,
    num_classes=3,
    in_index=-1,
    concat_input=False,
)
CLASSES = 'background, square, disc'


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_shapes_dataset(str(tmp_path_factory.mktemp('shapes')))


@pytest.mark.parametrize(
    'mode, options, message',
    [
        (
            'train',
            {'model.decode_head.num_classes': 6},
            r'^model\.decode_head\.num_classes=6 but train_dataloader\.dataset has'
            rf' 3 classes \(metainfo classes: {CLASSES}\); set model\.decode_head'
            r'\.num_classes=3 or use a data set of 6 classes$',
        ),
        (
            'train',
            {'model.decode_head.num_classes': 2},
            r'^model\.decode_head\.num_classes=2 but train_dataloader\.dataset has'
            r' 3 classes',
        ),
        (
            'train',
            {'model.auxiliary_head': dict(AUX, num_classes=5)},
            r'^model\.auxiliary_head\.num_classes=5 but train_dataloader\.dataset '
            r'has 3 classes',
        ),
        (
            'train',
            {'model.auxiliary_head': [AUX, dict(AUX, num_classes=4)]},
            r'^model\.auxiliary_head\.1\.num_classes=4 but train_dataloader',
        ),
        (
            'test',
            {'model.decode_head.num_classes': 6},
            r'^model\.decode_head\.num_classes=6 but test_dataloader\.dataset has'
            r' 3 classes',
        ),
        # the data set's classes overridden instead of the model's
        (
            'test',
            {
                'test_dataloader.dataset.metainfo.classes': ('a', 'b'),
                'test_dataloader.dataset.metainfo.palette': [[0, 0, 0]] * 2,
            },
            r'^model\.decode_head\.num_classes=3 but test_dataloader\.dataset has'
            r' 2 classes \(metainfo classes: a, b\)',
        ),
    ],
)
def test_class_count_mismatch_is_refused(
    data, tmp_path, mode, options, message
):
    cfg = load_config(
        tiny_config(), {**tiny_data_options(data), **options}, str(tmp_path)
    )
    runner = build_runner(cfg)
    with pytest.raises(ConfigError, match=message):
        getattr(runner, mode)()
    assert not glob.glob(str(tmp_path / '*.pth'))


def test_matching_heads_train(data, tmp_path):
    cfg = load_config(
        tiny_config(),
        {**tiny_data_options(data), 'model.auxiliary_head': AUX},
        str(tmp_path),
    )
    build_runner(cfg).train()
    assert glob.glob(str(tmp_path / 'iter_2.pth'))
