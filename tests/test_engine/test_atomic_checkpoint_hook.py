"""AtomicCheckpointHook: a kill inside checkpoint saving leaves
``last_checkpoint`` loadable (mmengine's own hook does not)."""

import os.path as osp

import pytest
import torch
from mmengine.hooks import CheckpointHook
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmseg_stunet.engine import AtomicCheckpointHook


class ToyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 1)

    def forward(self, inputs, mode='loss'):
        return dict(loss=self.fc(torch.stack(inputs)).pow(2).mean())


class Killed(BaseException):
    pass


def train_with_crash_in_save(work, hook):
    """Save after every iteration; the third save writes half a file and
    dies. Returns what ``last_checkpoint`` names afterwards."""
    import mmengine.runner.runner as runner_mod

    real = runner_mod.save_checkpoint
    calls = []

    def dying_save(checkpoint, filename, **kwargs):
        calls.append(filename)
        if len(calls) == 3:
            with open(filename, 'wb') as f:
                f.write(b'PK\x03\x04 half a checkpoint')
            raise Killed
        real(checkpoint, filename, **kwargs)

    runner = Runner(
        model=ToyModel(),
        work_dir=work,
        train_dataloader=dict(
            dataset=[dict(inputs=torch.ones(4))] * 8,
            sampler=dict(type='InfiniteSampler', shuffle=False),
            batch_size=2,
            collate_fn=dict(type='pseudo_collate'),
        ),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=6),
        default_hooks=dict(checkpoint=hook, logger=None),
        default_scope='mmengine',
        experiment_name=f'crash_{osp.basename(work)}',
    )
    runner_mod.save_checkpoint = dying_save
    try:
        with pytest.raises(Killed):
            runner.train()
    finally:
        runner_mod.save_checkpoint = real
    with open(osp.join(work, 'last_checkpoint')) as f:
        return f.read().strip()


def test_kill_while_saving_keeps_last_checkpoint_loadable(tmp_path):
    last = train_with_crash_in_save(
        str(tmp_path / 'atomic'),
        AtomicCheckpointHook(interval=1, by_epoch=False, max_keep_ckpts=1),
    )
    assert osp.basename(last) == 'iter_2.pth'
    assert torch.load(last, map_location='cpu')['meta']['iter'] == 2
    assert not osp.exists(osp.join(tmp_path / 'atomic', 'iter_3.pth'))
    # MMEngine's own hook, same crash: deletes iter_2 before saving iter_3,
    # so last_checkpoint names a file that is gone.
    last = train_with_crash_in_save(
        str(tmp_path / 'stock'),
        CheckpointHook(interval=1, by_epoch=False, max_keep_ckpts=1),
    )
    assert osp.basename(last) == 'iter_2.pth' and not osp.exists(last)
