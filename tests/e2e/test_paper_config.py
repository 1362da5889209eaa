"""Project configs as users run them: the paper config through its old path
``configs/st_unet_vaihingen.py`` trains and evaluates on raw-format ISPRS
data of 512 px tiles (the 256 crop and 256 test windows apply, the
class-wise Dice logs as loss_dice); a config outside the repository inherits
one by path."""

import glob
import json
import os.path as osp

import pytest
import torch
from helpers import run_tool

from mmseg_stunet.converters.isprs import convert_isprs
from mmseg_stunet.testing import write_vaihingen_archives
from mmseg_stunet.utils.paths import config_path, project_root

pytestmark = pytest.mark.e2e


def test_paper_config_by_its_old_path_trains_one_epoch(tmp_path):
    raw, data, work = (str(tmp_path / d) for d in ('raw', 'data', 'work'))
    write_vaihingen_archives(raw, (1, 3, 11), (512, 512), seed=2)
    # MMSegmentation's tile size: one 512 tile per area (2 train, 1 test)
    s = convert_isprs(
        'vaihingen', raw, data, size=512, progress=False, allow_missing=True
    )
    assert s.tiles == {'train': 2, 'val': 1}
    proc = run_tool(
        [
            'tools/train.py',
            config_path('st_unet_vaihingen.py'),
            '--work-dir',
            work,
            '--cfg-options',
            f'train_dataloader.dataset.data_root={data}',
            f'val_dataloader.dataset.data_root={data}',
            f'test_dataloader.dataset.data_root={data}',
            'train_dataloader.batch_size=2',
            'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False',
            'train_cfg.max_epochs=1',
            'train_cfg.val_interval=1',
            'default_hooks.checkpoint.interval=1',
            'default_hooks.logger.interval=1',
            'param_scheduler.0.end=1',
        ],
        timeout=900,
    )
    log = proc.stdout
    assert 'decode.loss_dice' in log and 'decode.loss_ce' in log
    ckpt = torch.load(osp.join(work, 'epoch_1.pth'), map_location='cpu')
    assert ckpt['meta']['epoch'] == 1
    (scores,) = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    with open(scores) as f:
        last = [json.loads(line) for line in f][-1]
    assert 0 <= last['mIoU'] <= 100 and 'IoU.car' in last


def test_config_outside_the_repository_inherits_by_path(tmp_path):
    """A user's config in another folder inherits a project config by its
    path, imports the package with ``custom_imports`` and trains there."""
    raw, data, work = (str(tmp_path / d) for d in ('raw', 'data', 'work'))
    write_vaihingen_archives(raw, (1, 3, 11), (128, 128), seed=3)
    convert_isprs(
        'vaihingen', raw, data, size=128, progress=False, allow_missing=True
    )
    user = tmp_path / 'my_project'
    user.mkdir()
    (user / 'my_stunet.py').write_text(
        f'_base_ = [{config_path("st_unet_demo.py")!r}]\n'
        "custom_imports = dict(imports=['mmseg_stunet'], "
        'allow_failed_imports=False)\n'
        f'data_root = {data!r}\n'
        'train_dataloader = dict(batch_size=2, '
        'dataset=dict(data_root=data_root))\n'
        'val_dataloader = dict(dataset=dict(data_root=data_root))\n'
        'test_dataloader = val_dataloader\n'
        'train_cfg = dict(max_iters=2, val_interval=2)\n'
    )
    proc = run_tool(
        [
            osp.join(project_root(), 'tools', 'train.py'),
            'my_stunet.py',
            '--work-dir',
            work,
        ],
        cwd=str(user),
    )
    assert 'decode.loss_dice' in proc.stdout
    assert (
        torch.load(osp.join(work, 'iter_2.pth'), map_location='cpu')['meta'][
            'iter'
        ]
        == 2
    )
