"""``--resume`` in a copied or moved work dir (issue 19, data loss).

mmengine stores absolute checkpoint paths: ``last_checkpoint`` and, in
every checkpoint's message hub, ``best_ckpt``, the previous best checkpoint
that ``CheckpointHook(save_best=...)`` deletes when it saves a better one.
``cp -r WD WD2; train.py --work-dir WD2 --resume`` thus loaded WD's
checkpoint and deleted WD's best checkpoint; after ``mv WD2 WD3`` the resume
failed naming the vanished WD2. A work dir must resume from its own files
and never touch a file outside itself.
"""

import os.path as osp
import shutil

import pytest
import torch
from helpers import checksums, run_tool, write_shapes_dataset

from mmseg_stunet.utils.paths import project_root

pytestmark = pytest.mark.e2e
TINY = osp.join(project_root(), 'tests', 'data', 'tiny_fcn_config.py')


def train(cfg, work, *extra):
    return run_tool(
        ['tools/train.py', cfg, '--work-dir', work, *extra], check=False
    )


def test_copied_and_moved_work_dirs_resume_from_their_own_files(tmp_path):
    data = write_shapes_dataset(
        str(tmp_path / 'data'), splits=(('train', 2), ('val', 1))
    )
    cfg = str(tmp_path / 'cfg.py')
    with open(cfg, 'w') as f:
        f.write(f'_base_ = [{TINY!r}]\n')
        for loader in ('train', 'val', 'test'):
            f.write(
                f'{loader}_dataloader = dict(dataset=dict('
                f'data_root={data!r}))\n'
            )
        f.write(
            'train_cfg = dict(max_iters=1, val_interval=1)\n'
            "default_hooks = dict(checkpoint=dict(save_best='mIoU'))\n"
        )
    orig, copy, moved = (str(tmp_path / n) for n in ('orig', 'copy', 'moved'))
    proc = train(cfg, orig)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert osp.isfile(osp.join(orig, 'best_mIoU_iter_1.pth'))
    # Make certain that the next validation is a new best (which deletes
    # the previous best checkpoint), whatever the scores.
    ckpt = osp.join(orig, 'iter_1.pth')
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    assert state['message_hub']['runtime_info']['best_ckpt'] == osp.join(
        orig, 'best_mIoU_iter_1.pth'
    )
    state['message_hub']['runtime_info']['best_score'] = -1.0
    torch.save(state, ckpt)
    shutil.copytree(orig, copy)
    before = checksums(orig)

    proc = train(
        cfg, copy, '--resume', '--cfg-options', 'train_cfg.max_iters=2'
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert checksums(orig) == before  # the original is untouched
    assert f'Load checkpoint from {copy}/iter_1.pth' in proc.stdout
    assert f'{orig}/' not in proc.stdout
    assert osp.isfile(osp.join(copy, 'best_mIoU_iter_2.pth'))
    assert not osp.exists(osp.join(copy, 'best_mIoU_iter_1.pth'))
    with open(osp.join(copy, 'last_checkpoint')) as f:
        assert f.read().strip() == osp.join(copy, 'iter_2.pth')

    shutil.move(copy, moved)
    proc = train(
        cfg, moved, '--resume', '--cfg-options', 'train_cfg.max_iters=3'
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert f'Load checkpoint from {moved}/iter_2.pth' in proc.stdout
    assert 'Iter(train) [3/3]' in proc.stdout
    assert osp.isfile(osp.join(moved, 'iter_3.pth'))
    assert checksums(orig) == before
