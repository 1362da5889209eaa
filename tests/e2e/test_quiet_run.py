"""A train and test run prints no warning the user cannot act on (issue 20:
each run printed 3-12: ``reduce_zero_label`` deprecation, more data-loader
workers than CPUs, a loss converted while it needs grad, ...)."""

import os.path as osp
import re

import pytest
from helpers import run_tool

from mmseg_stunet.converters.isprs import convert_isprs
from mmseg_stunet.engine.runner import usable_cpus
from mmseg_stunet.testing.synthetic_isprs import write_vaihingen_archives
from mmseg_stunet.utils.paths import config_path

pytestmark = pytest.mark.e2e

CONFIG = config_path(
    'st_unet', 'st-unet-tiny_1xb8-600iter_synthetic-vaihingen-128x128.py'
)
#: more than most machines have: fitted, with a log line, not a warning
WORKERS = 8


def _warnings(output):
    return [ln for ln in output.splitlines() if re.search(r'warn', ln, re.I)]


def test_tiny_train_and_test_print_no_warning(tmp_path):
    # one train area (11 is a test area of the paper split), 128 tiles
    write_vaihingen_archives(str(tmp_path / 'zips'), [1, 11], (128, 128))
    data = str(tmp_path / 'data')
    convert_isprs(
        'vaihingen',
        str(tmp_path / 'zips'),
        data,
        size=128,
        progress=False,
        allow_missing=True,
    )
    options = [
        '--cfg-options',
        f'train_dataloader.dataset.data_root={data}',
        f'val_dataloader.dataset.data_root={data}',
        f'test_dataloader.dataset.data_root={data}',
        'train_cfg.max_iters=2',
        'train_cfg.val_interval=2',
        'train_dataloader.batch_size=1',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        f'val_dataloader.num_workers={WORKERS}',
        f'test_dataloader.num_workers={WORKERS}',
    ]
    work = str(tmp_path / 'work')
    train = run_tool(
        ['tools/train.py', CONFIG, '--work-dir', work, *options]
    ).stdout
    assert osp.isfile(osp.join(work, 'iter_2.pth'))
    test = run_tool(
        [
            'tools/test.py',
            CONFIG,
            osp.join(work, 'iter_2.pth'),
            '--work-dir',
            str(tmp_path / 'test'),
            *options,
        ]
    ).stdout
    assert 'mIoU' in test
    assert _warnings(train) == [] and _warnings(test) == [], _warnings(
        train
    ) + _warnings(test)
    # MMSegmentation's own tools/train.py through mim (it builds the
    # config's runner_type, CheckedRunner; its tools/test.py does not)
    mim = run_tool(
        [
            '-m',
            'mim',
            'train',
            'mmseg',
            CONFIG,
            '--work-dir',
            str(tmp_path / 'mim_train'),
            *options,
        ]
    ).stdout
    assert osp.isfile(str(tmp_path / 'mim_train' / 'iter_2.pth'))
    # setuptools < 80.9 (tools/lib/packages.sh): its pkg_resources, which
    # mim and mmengine import, warns only as a hidden DeprecationWarning
    assert _warnings(mim) == [], _warnings(mim)
    if usable_cpus() < WORKERS:
        assert (
            f'num_workers={WORKERS} lowered to {usable_cpus()}, the CPUs '
            'this process may use'
        ) in test
