"""MMSegmentation's own inference API (``init_model``, ``inference_model``,
``MMSegInferencer``) on the project's configs, with and without a
checkpoint.

Before: every ISPRS config listed ``CheckSegMap`` in its ``test_pipeline``,
which mmseg's inference reuses without ``LoadAnnotations``, and failed with
``KeyError: 'gt_seg_map'``; the ISPRS data sets now add the check after
``LoadAnnotations`` themselves (tests/test_datasets/test_checks.py)."""

import glob
import os.path as osp
import warnings

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.apis import MMSegInferencer, inference_model, init_model
from mmseg.apis.utils import _preprare_data

from mmseg_stunet.datasets.isprs import ISPRS_CLASSES, ISPRS_PALETTE
from mmseg_stunet.utils.notices import silence_known_notices
from mmseg_stunet.utils.paths import config_path

#: every config a user can pass (the short top-level aliases included)
ALL_CONFIGS = sorted(
    osp.relpath(p, config_path('.'))
    for p in glob.glob(config_path('**/*.py'), recursive=True)
    if '_base_' not in p.split(osp.sep)
)
TINY = 'st_unet/st-unet-tiny_1xb8-600iter_synthetic-vaihingen-128x128.py'
#: odd sides, not multiples of ST-UNet's window or any output stride
HEIGHT, WIDTH = 45, 70


def test_every_config_is_listed():
    assert len(ALL_CONFIGS) >= 30
    assert TINY in ALL_CONFIGS and 'st_unet_vaihingen.py' in ALL_CONFIGS
    assert any(c.startswith('vainf/') for c in ALL_CONFIGS)


def _bands(cfg: Config) -> int:
    """The input bands a config's model takes (4 for Potsdam RGBIR)."""
    return cfg.model.get('backbone', {}).get('in_channels', 3)


def _image(tmp_path, name='tile.png', bands=3):
    """A random ``bands``-channel PNG tile (4: what the RGBIR converter
    writes, read back with ``color_type='unchanged'``) and its array."""
    img = np.random.RandomState(0).randint(
        0, 256, (HEIGHT, WIDTH, bands), np.uint8
    )
    path = str(tmp_path / name)
    cv2.imwrite(path, img)
    return path, img


class _CfgOnly:
    """What ``_preprare_data`` reads of a model: its ``cfg``."""

    def __init__(self, cfg):
        self.cfg = cfg


@pytest.mark.parametrize('name', ALL_CONFIGS)
def test_inference_pipelines_need_no_labels(tmp_path, name):
    """The pipelines mmseg's inference builds from each config (as
    ``inference_model`` and ``MMSegInferencer`` do, with their own code)
    run on an image without labels; no model is built (fast)."""
    cfg = Config.fromfile(config_path(name))
    bands = _bands(cfg)
    path, img = _image(tmp_path, bands=bands)
    for source in (path, img):
        data, _ = _preprare_data(source, _CfgOnly(cfg.copy()))
        assert tuple(data['inputs'][0].shape) == (bands, HEIGHT, WIDTH)
        assert 'gt_sem_seg' not in data['data_samples'][0]
    pipeline = MMSegInferencer._init_pipeline(
        MMSegInferencer.__new__(MMSegInferencer), cfg.copy()
    )
    out = pipeline(path)
    assert tuple(out['inputs'].shape) == (bands, HEIGHT, WIDTH)


def _save_checkpoint(model, path):
    torch.save(
        {
            'state_dict': model.state_dict(),
            'meta': {
                'dataset_meta': {
                    'classes': ISPRS_CLASSES,
                    'palette': [list(c) for c in ISPRS_PALETTE],
                }
            },
        },
        path,
    )
    return path


def check_mmseg_api(name, tmp_path):
    """``init_model`` (no checkpoint) + ``inference_model`` on a PNG path
    and on an array, then the model's random weights saved as a checkpoint
    and used by ``init_model`` and ``MMSegInferencer``: every prediction
    is the image's size and the checkpoint's predictions are the first
    model's (the same weights)."""
    bands = _bands(Config.fromfile(config_path(name)))
    path, img = _image(tmp_path, bands=bands)
    # building prints no warning but the known third-party notices
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        silence_known_notices()
        model = init_model(config_path(name), device='cpu')
    assert [str(w.message) for w in caught] == []
    result = inference_model(model, path)
    pred = result.pred_sem_seg.data
    assert tuple(pred.shape) == (1, HEIGHT, WIDTH)
    batch = inference_model(model, [img])
    assert torch.equal(batch[0].pred_sem_seg.data, pred)

    ckpt = _save_checkpoint(model, str(tmp_path / 'random.pth'))
    loaded = init_model(config_path(name), ckpt, device='cpu')
    assert loaded.dataset_meta['classes'] == ISPRS_CLASSES
    assert torch.equal(inference_model(loaded, path).pred_sem_seg.data, pred)

    inferencer = MMSegInferencer(config_path(name), weights=ckpt, device='cpu')
    out = inferencer(path)
    assert out['predictions'].shape == (HEIGHT, WIDTH)
    np.testing.assert_array_equal(out['predictions'], pred[0].numpy())
    return pred


def test_mmseg_api_on_the_tiny_config(tmp_path):
    check_mmseg_api(TINY, tmp_path)
    # the inferencer also without a checkpoint, and on an array
    out = MMSegInferencer(config_path(TINY), device='cpu')(_image(tmp_path)[1])
    assert out['predictions'].shape == (HEIGHT, WIDTH)


@pytest.mark.e2e
@pytest.mark.parametrize('name', [c for c in ALL_CONFIGS if c != TINY])
def test_mmseg_api_on_every_config(tmp_path, name):
    check_mmseg_api(name, tmp_path)
