"""What ``tools/test.py`` says about the scores it prints on ISPRS data:
each pixel of an area scored once over the converter's overlapping tiles,
eroded ground truth noted, labels written as class indices 0..5 refused in
one line before the model runs (issue 19, wrong answers with exit 0)."""

import os
import os.path as osp
import re
import shutil

import cv2
import pytest
from helpers import run_tool, small_cfg
from mmengine.config import Config

from mmseg_stunet.converters.isprs import convert_isprs, tile_boxes
from mmseg_stunet.testing.synthetic_isprs import write_vaihingen_archives
from mmseg_stunet.utils.paths import config_path

pytestmark = pytest.mark.e2e

AREA, SIZE, TILE = 11, 192, 128  # area 11 is a test area of the paper split


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """One synthetic Vaihingen test area in 4 overlapping 128 tiles, a tiny
    FCN with random weights and a config that tests it."""
    tmp = tmp_path_factory.mktemp('metric')
    write_vaihingen_archives(str(tmp / 'zips'), [AREA], (SIZE, SIZE))
    data = str(tmp / 'data')
    convert_isprs(
        'vaihingen',
        str(tmp / 'zips'),
        data,
        size=TILE,
        progress=False,
        allow_missing=True,
    )
    cfg = Config.fromfile(
        config_path(
            'st_unet/st-unet-tiny_1xb8-600iter_synthetic-vaihingen-128x128.py'
        )
    )
    cfg.model = small_cfg('fcn').model
    cfg.data_root = data
    cfg.test_dataloader.dataset.data_root = data
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    cfg.val_dataloader = cfg.test_dataloader
    path = str(tmp / 'cfg.py')
    cfg.dump(path)
    from mmengine.runner import save_checkpoint
    from mmseg.apis import init_model

    model = init_model(path, None, 'cpu')
    ckpt = str(tmp / 'random.pth')
    save_checkpoint(model.state_dict(), ckpt)
    return dict(tmp=tmp, data=data, cfg=path, ckpt=ckpt)


def run_test(setup, *options, check=True):
    """``tools/test.py`` on the setup's config and checkpoint."""
    work = str(setup['tmp'] / 'work')
    return run_tool(
        [
            'tools/test.py',
            setup['cfg'],
            setup['ckpt'],
            '--work-dir',
            work,
            *options,
        ],
        check=check,
    )


def test_each_pixel_once_and_eroded_note(setup):
    overlap = len(tile_boxes(SIZE, SIZE, TILE, TILE)) * TILE**2 - SIZE**2
    once = (
        f'each pixel of 1 areas scored once; {overlap} overlapping '
        'pixels not double-counted'
    )
    out = run_test(setup).stdout
    assert once in out
    assert 'ground truth is eroded' not in out
    out = run_test(
        setup,
        '--cfg-options',
        'test_dataloader.dataset.data_prefix.seg_map_path=ann_dir_eroded/val',
    ).stdout
    assert once in out
    assert re.search(
        r'note: the ground truth is eroded \(\d+\.\d % of its '
        r'pixels are ignore_index 255',
        out,
    ), out[-3000:]


def test_class_index_labels_refused_in_one_line(setup):
    """The converted labels rewritten as 0..5 (as another tool might write
    them): before, scored with every class shifted and exit 0."""
    src = osp.join(setup['data'], 'ann_dir', 'val')
    dst = osp.join(setup['data'], 'ann_dir_index', 'val')
    shutil.copytree(src, dst)
    for name in os.listdir(dst):
        label = cv2.imread(osp.join(dst, name), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(osp.join(dst, name), label - 1)  # full labels: 1..6
    proc = run_test(
        setup,
        '--cfg-options',
        'test_dataloader.dataset.data_prefix.seg_map_path=ann_dir_index/val',
        check=False,
    )
    proc_out = proc.stdout
    assert proc.returncode == 1, proc_out[-3000:]
    lines = [line for line in proc_out.splitlines() if line.strip()]
    assert 'Traceback' not in proc_out
    assert re.fullmatch(
        r'error: .*ann_dir_index/val/area11_\d+_\d+_\d+_\d+\.png: label '
        r'value 0 fills whole regions .* these look like class indices '
        r'0\.\.5, .*set reduce_zero_label=False in the data set and its '
        r'LoadAnnotations.*',
        lines[-1],
    ), proc_out[-3000:]
