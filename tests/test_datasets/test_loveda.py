"""LoveDA: the configs' data sets load mmseg's layout with 7 classes (0 =
no-data ignored), bad masks stop in one line naming the file, and every
new data set variant's config builds a model of its class and band count."""

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import DATASETS, MODELS
from mmseg.structures import SegDataSample

from mmseg_stunet.datasets.loveda import LOVEDA_CLASSES, LOVEDA_PALETTE
from mmseg_stunet.engine.errors import ConfigError
from mmseg_stunet.testing.synthetic_loveda import write_loveda_layout
from mmseg_stunet.utils.paths import DataFileError, config_path

LOVEDA = [
    'st_unet/st-unet_1xb8-100e_loveda-256x256',
    'deeplabv3plus/deeplabv3plus_r50-d8_1xb8-100e_loveda-256x256',
]


def _dataset(cfg, root, loader='train_dataloader'):
    ds = cfg[loader].dataset
    return DATASETS.build(dict(ds, data_root=str(root)))


@pytest.mark.parametrize('name', LOVEDA)
def test_loveda_configs_load_seven_classes(tmp_path, name):
    root = write_loveda_layout(str(tmp_path), size=64)
    cfg = Config.fromfile(config_path(f'{name}.py'))
    assert cfg.test_evaluator.type == 'IoUMetric'
    assert cfg.model.decode_head.num_classes == 7
    for loader, _split in (
        ('train_dataloader', 'train'),
        ('test_dataloader', 'val'),
    ):
        ds = _dataset(cfg, root, loader)
        assert ds.metainfo['classes'] == LOVEDA_CLASSES
        assert [tuple(c) for c in ds.metainfo['palette']] == list(
            LOVEDA_PALETTE
        )
        sample = ds[0]['data_samples']
        mask = cv2.imread(
            ds.get_data_info(0)['seg_map_path'], cv2.IMREAD_UNCHANGED
        )
        # file 0 -> 255 (no-data), 1..7 -> 0..6, the crop a part of it
        seg = sample.gt_sem_seg.data[0].numpy()
        expected = np.where(mask == 0, 255, mask.astype(int) - 1)
        assert seg.shape == (64, 64)  # 64 px images: the 256 crop is all
        np.testing.assert_array_equal(seg, expected)
        assert set(np.unique(seg)) == set(range(7)) | {255}


def test_loveda_bad_masks_and_empty_folders_are_named(tmp_path):
    cfg = Config.fromfile(config_path(f'{LOVEDA[0]}.py'))
    root = write_loveda_layout(str(tmp_path / 'a'), size=64)
    bad = f'{root}/ann_dir/train/3.png'
    mask = cv2.imread(bad, cv2.IMREAD_UNCHANGED)
    mask[5, 7] = 9
    cv2.imwrite(bad, mask)
    ds = _dataset(cfg, root)
    with pytest.raises(DataFileError) as err:
        ds[3]
    msg = str(err.value)
    assert '\n' not in msg and 'ann_dir/train/3.png' in msg
    assert 'label value(s) [9]' in msg and 'valid are 1..7' in msg
    # class indices 0..6 (no 7 anywhere, 0 filling regions): refused
    root = write_loveda_layout(str(tmp_path / 'b'), size=64)
    for split in ('train', 'val'):
        for path in sorted((tmp_path / 'b' / 'ann_dir' / split).iterdir()):
            m = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            cv2.imwrite(str(path), np.maximum(m, 1) - 1)
    with pytest.raises(ConfigError, match='class indices 0..6'):
        _dataset(cfg, root)
    (tmp_path / 'c' / 'img_dir' / 'train').mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match='no \\*.png images in'):
        _dataset(cfg, tmp_path / 'c')


#: every config added for a data set variant: (config, classes, bands)
VARIANT_CONFIGS = [
    ('st_unet/st-unet_1xb8-100e_loveda-256x256', 7, 3),
    ('deeplabv3plus/deeplabv3plus_r50-d8_1xb8-100e_loveda-256x256', 7, 3),
    ('st_unet/st-unet_1xb8-100e_potsdam-irrg-256x256', 6, 3),
    ('st_unet/st-unet_1xb8-100e_potsdam-rgbir-256x256', 6, 4),
    ('deeplabv3plus/deeplabv3plus_r50-d8_1xb8-100e_potsdam-256x256', 6, 3),
    (
        'deeplabv3plus/deeplabv3plus_r50-d8_1xb8-100e_potsdam-irrg-256x256',
        6,
        3,
    ),
]


@pytest.mark.parametrize('name,classes,bands', VARIANT_CONFIGS)
def test_variant_configs_build_and_predict(name, classes, bands):
    cfg = Config.fromfile(config_path(f'{name}.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    pre = model.data_preprocessor
    assert pre.mean.numel() == bands and pre.std.numel() == bands
    img = torch.randint(0, 256, (bands, 64, 64), dtype=torch.uint8)
    sample = SegDataSample(
        metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64))
    )
    data = pre(dict(inputs=[img], data_samples=[sample]), False)
    with torch.no_grad():
        logits = model.encode_decode(
            data['inputs'], [dict(img_shape=(64, 64))]
        )
    assert logits.shape == (1, classes, 64, 64)
    assert torch.isfinite(logits).all()


def test_isprs_config_on_loveda_masks_names_the_seventh_class(tmp_path):
    """LoveDA data under a 6-class ISPRS config (the issue's two
    tracebacks): the first mask holding 7 (agricultural) stops in one line
    naming the file and the value."""
    root = write_loveda_layout(str(tmp_path), size=64)
    cfg = Config.fromfile(
        config_path('st_unet/st-unet_1xb8-100e_vaihingen-256x256.py')
    )
    ds = _dataset(cfg, root)
    with pytest.raises(DataFileError) as err:
        ds[0]
    msg = str(err.value)
    assert '\n' not in msg and 'ann_dir/train/0.png' in msg
    assert 'label value(s) [7]' in msg and 'valid are 1..6' in msg
