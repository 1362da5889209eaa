"""LoveDA end to end through the tools: convert tiny archives, train both
LoveDA configs for 2 iterations (models shrunk with --cfg-options), test the
checkpoint, and a mask value past the classes stops training in one line."""

import glob
import json
import os.path as osp

import cv2
import pytest
from helpers import run_tool

from mmseg_stunet.testing.synthetic_loveda import write_loveda_archives
from mmseg_stunet.utils.paths import config_path

pytestmark = pytest.mark.e2e

STUNET = config_path('st_unet', 'st-unet_1xb8-100e_loveda-256x256.py')
DEEPLAB = config_path(
    'deeplabv3plus', 'deeplabv3plus_r50-d8_1xb8-100e_loveda-256x256.py'
)
#: shrink the paper models (the tests' small ST-UNet; DeepLabV3+ on R-18)
SMALL = {
    STUNET: [
        'model.backbone.base_channels=8',
        'model.backbone.num_groups=4',
        'model.backbone.stage_blocks=(1,1,1,1)',
        'model.backbone.embed_dims=8',
        'model.backbone.depths=(2,2,2,2)',
        'model.backbone.num_heads=(1,1,2,2)',
        'model.backbone.window_size=4',
        'model.decode_head.in_channels=(32,64,128,256)',
        'model.decode_head.decoder_channels=(32,16,16,8)',
        'model.decode_head.channels=4',
    ],
    DEEPLAB: [
        'model.backbone.depth=18',
        'model.decode_head.in_channels=512',
        'model.decode_head.channels=16',
        'model.decode_head.c1_in_channels=64',
        'model.decode_head.c1_channels=8',
        'model.auxiliary_head.in_channels=256',
        'model.auxiliary_head.channels=16',
    ],
}


def options(config, data):
    # 8 training images, batch 4: 2 iterations in the one epoch
    return [
        '--cfg-options',
        f'data_root={data}',
        *(
            f'{k}_dataloader.dataset.data_root={data}'
            for k in ('train', 'val', 'test')
        ),
        'train_dataloader.batch_size=4',
        'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1',
        'default_hooks.checkpoint.interval=1',
        *(f'{k}_dataloader.num_workers=0' for k in ('train', 'val')),
        *(
            f'{k}_dataloader.persistent_workers=False'
            for k in ('train', 'val')
        ),
        *SMALL[config],
    ]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('loveda')
    write_loveda_archives(str(tmp / 'raw'), size=64)
    out = str(tmp / 'loveDA')
    run_tool(
        [
            'tools/dataset_converters/loveda.py',
            str(tmp / 'raw'),
            '-o',
            out,
            '--no-progress',
        ]
    )
    assert len(glob.glob(osp.join(out, 'img_dir', 'train', '*.png'))) == 8
    return out


@pytest.mark.parametrize(
    'config', [STUNET, DEEPLAB], ids=['st-unet', 'deeplabv3plus']
)
def test_train_and_test_two_iterations(data, tmp_path, config):
    work = str(tmp_path / 'work')
    out = run_tool(
        ['tools/train.py', config, '--work-dir', work, *options(config, data)]
    ).stdout
    assert 'Epoch(train) [1][2/2]' in out
    ckpt = osp.join(work, 'epoch_1.pth')
    assert osp.isfile(ckpt)
    if config != STUNET:
        return  # one tools/test.py run is enough
    run_tool(
        [
            'tools/test.py',
            config,
            ckpt,
            '--work-dir',
            str(tmp_path / 'test'),
            *options(config, data),
        ]
    )
    (metrics,) = glob.glob(str(tmp_path / 'test' / '*' / '*.json'))
    with open(metrics) as f:
        scores = json.load(f)
    assert (
        0.0 <= scores['mIoU'] <= 100.0 and 'IoU.agricultural' not in scores
    )  # IoUMetric logs the per-class table, returns the means


def test_mask_value_past_the_classes_stops_in_one_line(data, tmp_path):
    bad = osp.join(str(tmp_path), 'loveDA')
    import shutil

    shutil.copytree(data, bad)
    path = osp.join(bad, 'ann_dir', 'train', '3.png')
    mask = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    mask[10, 20] = 8
    cv2.imwrite(path, mask)
    proc = run_tool(
        [
            'tools/train.py',
            STUNET,
            '--work-dir',
            str(tmp_path / 'work'),
            *options(STUNET, bad),
        ],
        check=False,
    )
    assert proc.returncode == 1, proc.stdout[-3000:]
    errors = [ln for ln in proc.stdout.splitlines() if ln.startswith('error:')]
    assert len(errors) == 1 and 'Traceback' not in proc.stdout, proc.stdout[
        -3000:
    ]
    assert 'ann_dir/train/3.png' in errors[0]
    assert 'label value(s) [8]' in errors[0] and 'valid are 1..7' in errors[0]
