"""CheckpointCheckHook (with mmengine's own Runner, as under ``mim test``):
refuses checkpoints that do not fit when testing and names unreadable ones;
CheckedRunner answers iter/epoch without the training data."""
import os.path as osp

import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.runner import save_checkpoint

from mmengine.runner import Runner

from mmseg_stunet.engine import (CheckedRunner, CheckpointCheckHook,
                                 CheckpointError)


class ToyModel(BaseModel):

    def __init__(self, width=4):
        super().__init__()
        self.fc = torch.nn.Linear(width, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.fc(torch.stack(inputs))
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return [dict(pred=o) for o in out]


class CountMetric(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.extend(float(s['pred']) for s in data_samples)

    def compute_metrics(self, results):
        return dict(count=len(results))


def runner(work, checkpoint, width=4, runner_cls=Runner, **cfg):
    loader = dict(dataset=[dict(inputs=torch.ones(4))] * 3,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  batch_size=1, collate_fn=dict(type='pseudo_collate'))
    return runner_cls(
        model=ToyModel(width), work_dir=work,
        custom_hooks=[CheckpointCheckHook()],
        # a training loader that cannot be built (no such data set)
        train_dataloader=dict(dataset=dict(type='NoSuchDataset'),
                              sampler=dict(type='DefaultSampler'),
                              batch_size=1),
        train_cfg=dict(by_epoch=False, max_iters=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        test_dataloader=loader, test_cfg=dict(type='TestLoop'),
        test_evaluator=CountMetric(), load_from=checkpoint,
        default_scope='mmengine', cfg=dict(cfg),
        experiment_name=f'checked_{osp.basename(work)}')


@pytest.fixture
def ckpt(tmp_path):
    path = str(tmp_path / 'toy.pth')
    save_checkpoint(dict(state_dict=ToyModel().state_dict(), meta={}), path)
    return path


def test_test_loads_a_fitting_checkpoint(ckpt, tmp_path):
    r = runner(str(tmp_path / 'ok'), ckpt, runner_cls=CheckedRunner)
    assert r.iter == 0 and r.epoch == 0  # no training loader was built
    assert r.test() == dict(count=3)
    torch.testing.assert_close(r.model.fc.weight,
                               torch.load(ckpt)['state_dict']['fc.weight'])


def test_test_refuses_a_checkpoint_that_does_not_fit(ckpt, tmp_path):
    r = runner(str(tmp_path / 'bad'), ckpt, width=6)
    with pytest.raises(CheckpointError,
                       match=r'toy\.pth does not fit the model: 1 of '
                       r'another shape \(e\.g\. fc\.weight: checkpoint '
                       r'\(1, 4\) vs model \(1, 6\)\)'):
        r.test()
    lacking = str(tmp_path / 'lacking.pth')
    save_checkpoint(dict(state_dict={'fc.weight': torch.ones(1, 4)}),
                    lacking)
    with pytest.raises(CheckpointError, match=r"1 of the model's 2 weights "
                       r'missing \(e\.g\. fc\.bias\)'):
        runner(str(tmp_path / 'lacking'), lacking).test()
    r = runner(str(tmp_path / 'partial'), lacking,
               allow_partial_checkpoint=True)
    assert r.test() == dict(count=3)
    assert torch.equal(r.model.fc.weight, torch.ones(1, 4))


def test_unreadable_checkpoint_is_named(tmp_path):
    bad = str(tmp_path / 'broken.pth')
    with open(bad, 'wb') as f:
        f.write(b'PK\x03\x04 half a checkpoint')
    with pytest.raises(CheckpointError, match=r'broken\.pth: cannot be read'):
        runner(str(tmp_path / 'w'), bad).test()


def test_rebase_checkpoint_paths_keeps_deletions_in_the_work_dir(tmp_path):
    """CheckpointHook deletes the previous best checkpoint through the
    absolute path in the resumed message hub: in a copied work dir that is
    the original's file. Paths are rebased into the work dir, or forgotten."""
    from mmseg_stunet.engine.runner import rebase_checkpoint_paths
    orig, copy = tmp_path / 'orig', tmp_path / 'copy'
    copy.mkdir()
    (copy / 'best_mIoU_iter_1.pth').write_bytes(b'w')
    info = dict(best_ckpt=str(orig / 'best_mIoU_iter_1.pth'),
                best_ckpt_aAcc=str(orig / 'best_aAcc_iter_1.pth'),
                last_ckpt=str(copy / 'iter_2.pth'), best_score=0.5,
                keep_ckpt_ids=[1, 2], remote='s3://bucket/iter_1.pth')
    changed = rebase_checkpoint_paths(info, str(copy), info.__setitem__)
    assert sorted(changed) == ['best_ckpt', 'best_ckpt_aAcc']
    assert info == dict(
        best_ckpt=str(copy / 'best_mIoU_iter_1.pth'), best_ckpt_aAcc=None,
        last_ckpt=str(copy / 'iter_2.pth'), best_score=0.5,
        keep_ckpt_ids=[1, 2], remote='s3://bucket/iter_1.pth')


def test_dataset_paths_follow_wrappers():
    """What tools/test.py keeps its outputs out of."""
    from mmengine.config import Config

    from mmseg_stunet.engine.runner import dataset_paths
    cfg = Config(dict(test_dataloader=dict(dataset=dict(
        type='ConcatDataset', datasets=[
            dict(data_root='d', data_prefix=dict(img_path='img_dir/val',
                                                 seg_map_path='/abs/ann')),
            dict(type='RepeatDataset', dataset=dict(
                data_root='', ann_file='e/val.txt',
                data_prefix=dict(img_path='', seg_map_path='e/ann')))
        ]))))
    key = 'test_dataloader.dataset.datasets'
    assert dataset_paths(cfg) == {
        f'{key}[0].data_root': 'd',
        f'{key}[0].data_prefix.img_path': 'd/img_dir/val',
        f'{key}[0].data_prefix.seg_map_path': '/abs/ann',
        f'{key}[1].dataset.data_prefix.seg_map_path': 'e/ann',
        f'{key}[1].dataset.ann_file': 'e/val.txt',
    }
    assert dataset_paths(Config(dict())) == {}


def test_check_predictions_names_empty_and_missing_files(tmp_path):
    from mmseg_stunet.engine.runner import check_predictions
    (tmp_path / 'a.png').write_bytes(b'png')
    check_predictions(str(tmp_path), 1, 'preds')
    with pytest.raises(OSError, match=r'^--out preds: only 1 of 2 pred'):
        check_predictions(str(tmp_path), 2, 'preds')
    (tmp_path / 'b.png').write_bytes(b'')
    with pytest.raises(OSError, match=r'^--out preds: b\.png was written emp'):
        check_predictions(str(tmp_path), 2, 'preds')
