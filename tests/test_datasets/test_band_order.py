"""The model sees the same channels in training (the converted tiles through
each config's LoadImageFromFile) as tools/predict.py gives it from the
original ISPRS GeoTIFF (SceneReader), for every data set variant."""

import os.path as osp
import zipfile

import numpy as np
import pytest
import rasterio
from mmengine.config import Config
from mmseg.registry import DATASETS

from mmseg_stunet.apis.raster_io import SceneReader
from mmseg_stunet.converters.isprs import convert_isprs
from mmseg_stunet.datasets.isprs import image_bands
from mmseg_stunet.testing.synthetic_isprs import (
    write_potsdam_archives,
    write_vaihingen_archives,
)
from mmseg_stunet.utils.bands import loaded_order, model_band_names
from mmseg_stunet.utils.paths import config_path
from mmseg_stunet.utils.tiling import parse_tile_name

pytestmark = pytest.mark.filterwarnings(
    'ignore::rasterio.errors.NotGeoreferencedWarning'
)
SIZE = 64
# (data set, Potsdam modality, config, archive with the source image)
VARIANTS = [
    (
        'vaihingen',
        'RGB',
        'st_unet/st-unet_1xb8-100e_vaihingen-256x256',
        'ISPRS_semantic_labeling_Vaihingen.zip',
    ),
    (
        'potsdam',
        'RGB',
        'st_unet/st-unet_1xb8-100e_potsdam-256x256',
        '2_Ortho_RGB.zip',
    ),
    (
        'potsdam',
        'IRRG',
        'st_unet/st-unet_1xb8-100e_potsdam-irrg-256x256',
        '3_Ortho_IRRG.zip',
    ),
    (
        'potsdam',
        'RGBIR',
        'st_unet/st-unet_1xb8-100e_potsdam-rgbir-256x256',
        '4_Ortho_RGBIR.zip',
    ),
    (
        'potsdam',
        'RGB',
        'deeplabv3plus/deeplabv3plus_r50-d8_1xb8-100e_potsdam-256x256',
        '2_Ortho_RGB.zip',
    ),
    (
        'potsdam',
        'IRRG',
        'deeplabv3plus/deeplabv3plus_r50-d8_1xb8-100e_potsdam-irrg-256x256',
        '3_Ortho_IRRG.zip',
    ),
]


@pytest.fixture(scope='module')
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp('raw')
    write_vaihingen_archives(str(root), areas=(1,), size=(96, 80), seed=3)
    write_potsdam_archives(str(root), tiles=('2_10',), size=(96, 80), seed=4)
    return root


def test_loaded_order_is_opencvs():
    assert loaded_order([1]) == [1] and loaded_order([1, 2]) == [1, 2]
    assert loaded_order([1, 2, 3]) == [3, 2, 1]
    assert loaded_order([1, 2, 3, 4]) == [3, 2, 1, 4]
    assert loaded_order([1, 2, 3, 4, 5]) == [1, 2, 3, 4, 5]
    assert model_band_names(('R', 'G', 'B', 'IR')) == ('B', 'G', 'R', 'IR')


@pytest.mark.parametrize('dataset,modality,config,archive', VARIANTS)
def test_training_and_prediction_see_the_same_channels(
    raw, tmp_path, dataset, modality, config, archive
):
    out = str(tmp_path / 'out')
    convert_isprs(
        dataset,
        str(raw),
        out,
        size=SIZE,
        modality=modality,
        progress=False,
        allow_missing=True,
    )
    cfg = Config.fromfile(config_path(f'{config}.py'))
    ds_cfg = cfg.train_dataloader.dataset
    # the config's loading and checking steps (not the random crop)
    pipeline = [
        t
        for t in ds_cfg.pipeline
        if t.type.startswith('Load') or t.type == 'CheckSegMap'
    ]
    ds = DATASETS.build(
        dict(
            type=ds_cfg.type,
            data_root=out,
            data_prefix=ds_cfg.data_prefix,
            pipeline=pipeline,
        )
    )
    in_channels = cfg.model.backbone.get('in_channels', 3)
    bands = image_bands(dataset, modality)
    assert in_channels == len(bands), 'the config drops or invents bands'
    # the source GeoTIFF as ISPRS ships it
    with zipfile.ZipFile(osp.join(raw, archive)) as zf:
        (member,) = [m for m in zf.namelist() if m.endswith('.tif')]
        tif = zf.extract(member, str(tmp_path / 'src'))
    with rasterio.open(tif) as src:
        file_bands = src.read()  # (C, H, W) in file order
    assert file_bands.shape[0] == len(bands)
    names = model_band_names(bands)
    with SceneReader(tif, in_channels=in_channels) as reader:
        for i in range(len(ds)):
            sample = ds[i]
            img = sample['img']
            img = img[..., None] if img.ndim == 2 else img
            _, (x0, y0, x1, y1) = parse_tile_name(sample['img_path'])
            fed = reader.read((x0, y0, x1 - x0, y1 - y0))
            assert img.shape == (y1 - y0, x1 - x0, in_channels)
            np.testing.assert_array_equal(
                img.transpose(2, 0, 1),
                fed,
                err_msg=f'{config}: training and prediction channels differ',
            )
            # and the channels are the named bands of the file
            expected = np.stack(
                [file_bands[bands.index(n), y0:y1, x0:x1] for n in names]
            )
            np.testing.assert_array_equal(img.transpose(2, 0, 1), expected)
    assert len(ds) == 4  # 96x80 in 64 tiles: 2 x 2
