"""tools/test.py --tta on 64 px tiles: the 0.5x scale gives 32x32 images,
on which ST-UNet's deepest map is 1x1; the configs' data preprocessor pads
them to 64 and the prediction is cropped back (before: a GroupNorm
traceback, exit 1)."""

import os.path as osp

import pytest
import torch
from helpers import run_tool

from mmseg_stunet.converters.isprs import convert_isprs
from mmseg_stunet.testing import write_vaihingen_archives
from mmseg_stunet.utils.paths import config_path

pytestmark = pytest.mark.e2e


def test_tta_with_half_scale_on_small_tiles(tmp_path):
    raw, data = str(tmp_path / 'raw'), str(tmp_path / 'data')
    write_vaihingen_archives(raw, (11,), (64, 64), seed=1)
    convert_isprs(
        'vaihingen', raw, data, size=64, progress=False, allow_missing=True
    )
    from mmseg.apis import init_model

    cfg = config_path('st_unet_demo.py')
    torch.manual_seed(0)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(
        dict(state_dict=init_model(cfg, None, 'cpu').state_dict(), meta={}),
        ckpt,
    )
    proc = run_tool(
        [
            'tools/test.py',
            cfg,
            ckpt,
            '--tta',
            '--work-dir',
            str(tmp_path / 'work'),
            '--cfg-options',
            f'test_dataloader.dataset.data_root={data}',
            'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False',
        ]
    )
    assert 'Traceback' not in proc.stdout
    assert 'mIoU' in proc.stdout and osp.isdir(tmp_path / 'work')
