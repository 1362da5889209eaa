"""CheckpointCheckHook (with mmengine's own Runner, as under ``mim test``):
refuses checkpoints that do not fit or hold NaN/inf when testing, names
unreadable ones and refuses a resume with nothing to resume; CheckedRunner
answers iter/epoch without the training data, refuses runs that would
train nothing, and its schedules follow the run's length (load_config)."""

import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner, save_checkpoint

from mmseg_stunet.engine import (
    CheckedRunner,
    CheckpointCheckHook,
    CheckpointError,
    ConfigError,
)
from mmseg_stunet.engine.runner import load_config
from mmseg_stunet.utils.paths import project_root


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
    loader = dict(
        dataset=[dict(inputs=torch.ones(4))] * 3,
        sampler=dict(type='DefaultSampler', shuffle=False),
        batch_size=1,
        collate_fn=dict(type='pseudo_collate'),
    )
    return runner_cls(
        model=ToyModel(width),
        work_dir=work,
        custom_hooks=[CheckpointCheckHook()],
        # a training loader that cannot be built (no such data set)
        train_dataloader=dict(
            dataset=dict(type='NoSuchDataset'),
            sampler=dict(type='DefaultSampler'),
            batch_size=1,
        ),
        train_cfg=dict(by_epoch=False, max_iters=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        test_dataloader=loader,
        test_cfg=dict(type='TestLoop'),
        test_evaluator=CountMetric(),
        load_from=checkpoint,
        default_scope='mmengine',
        cfg=dict(cfg),
        experiment_name=f'checked_{osp.basename(work)}',
    )


@pytest.fixture
def ckpt(tmp_path):
    path = str(tmp_path / 'toy.pth')
    save_checkpoint(dict(state_dict=ToyModel().state_dict(), meta={}), path)
    return path


def test_test_loads_a_fitting_checkpoint(ckpt, tmp_path):
    r = runner(str(tmp_path / 'ok'), ckpt, runner_cls=CheckedRunner)
    assert r.iter == 0 and r.epoch == 0  # no training loader was built
    assert r.test() == dict(count=3)
    torch.testing.assert_close(
        r.model.fc.weight, torch.load(ckpt)['state_dict']['fc.weight']
    )


def test_test_refuses_a_checkpoint_that_does_not_fit(ckpt, tmp_path):
    r = runner(str(tmp_path / 'bad'), ckpt, width=6)
    with pytest.raises(
        CheckpointError,
        match=r'toy\.pth does not fit the model: 1 of '
        r'another shape \(e\.g\. fc\.weight: checkpoint '
        r'\(1, 4\) vs model \(1, 6\)\)',
    ):
        r.test()
    lacking = str(tmp_path / 'lacking.pth')
    save_checkpoint(dict(state_dict={'fc.weight': torch.ones(1, 4)}), lacking)
    with pytest.raises(
        CheckpointError,
        match=r"1 of the model's 2 weights "
        r'missing \(e\.g\. fc\.bias\)',
    ):
        runner(str(tmp_path / 'lacking'), lacking).test()
    r = runner(
        str(tmp_path / 'partial'), lacking, allow_partial_checkpoint=True
    )
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
    info = dict(
        best_ckpt=str(orig / 'best_mIoU_iter_1.pth'),
        best_ckpt_aAcc=str(orig / 'best_aAcc_iter_1.pth'),
        last_ckpt=str(copy / 'iter_2.pth'),
        best_score=0.5,
        keep_ckpt_ids=[1, 2],
        remote='s3://bucket/iter_1.pth',
    )
    changed = rebase_checkpoint_paths(info, str(copy), info.__setitem__)
    assert sorted(changed) == ['best_ckpt', 'best_ckpt_aAcc']
    assert info == dict(
        best_ckpt=str(copy / 'best_mIoU_iter_1.pth'),
        best_ckpt_aAcc=None,
        last_ckpt=str(copy / 'iter_2.pth'),
        best_score=0.5,
        keep_ckpt_ids=[1, 2],
        remote='s3://bucket/iter_1.pth',
    )


def test_dataset_paths_follow_wrappers():
    """What tools/test.py keeps its outputs out of."""
    from mmengine.config import Config

    from mmseg_stunet.engine.runner import dataset_paths

    cfg = Config(
        dict(
            test_dataloader=dict(
                dataset=dict(
                    type='ConcatDataset',
                    datasets=[
                        dict(
                            data_root='d',
                            data_prefix=dict(
                                img_path='img_dir/val', seg_map_path='/abs/ann'
                            ),
                        ),
                        dict(
                            type='RepeatDataset',
                            dataset=dict(
                                data_root='',
                                ann_file='e/val.txt',
                                data_prefix=dict(
                                    img_path='', seg_map_path='e/ann'
                                ),
                            ),
                        ),
                    ],
                )
            )
        )
    )
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


@pytest.mark.parametrize(
    'name, value', [('fc.weight', float('nan')), ('fc.bias', float('inf'))]
)
def test_test_refuses_a_checkpoint_with_nan_or_inf(tmp_path, name, value):
    """A diverged run's checkpoint is refused naming its first bad weight
    (tools/test.py and mim test), not scored as a model."""
    sd = ToyModel().state_dict()
    sd[name].view(-1)[0] = value
    path = str(tmp_path / 'diverged.pth')
    save_checkpoint(dict(state_dict=sd, meta={}), path)
    with pytest.raises(
        CheckpointError,
        match=rf'diverged\.pth: weight {name} \(1 of '
        rf'{sd[name].numel()} values NaN or inf\): the '
        'checkpoint comes from a run that diverged',
    ):
        runner(str(tmp_path / 'w'), path).test()


class RecordLR(Hook):
    """The learning rate each training iteration runs with."""

    def __init__(self):
        self.lrs = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.lrs.append(runner.optim_wrapper.get_lr()['lr'][0])


def train_runner(
    work,
    train_cfg,
    param_scheduler=None,
    resume=False,
    optim_wrapper=None,
    by_epoch=False,
):
    """A toy CheckedRunner training 4 batches per epoch, saving a
    checkpoint after every iteration (or epoch), with the checkpoint checks
    and an LR recorder."""
    return CheckedRunner(
        model=ToyModel(),
        work_dir=work,
        train_dataloader=dict(
            dataset=[dict(inputs=torch.ones(4))] * 4,
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=1,
            collate_fn=dict(type='pseudo_collate'),
        ),
        train_cfg=train_cfg,
        optim_wrapper=optim_wrapper
        or dict(optimizer=dict(type='SGD', lr=0.01)),
        param_scheduler=param_scheduler,
        default_hooks=dict(
            checkpoint=dict(
                type='CheckpointHook', interval=1, by_epoch=by_epoch
            )
        ),
        custom_hooks=[CheckpointCheckHook(), RecordLR()],
        resume=resume,
        default_scope='mmengine',
        experiment_name=f'train_{osp.basename(work)}',
    )


POLY = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False)]


@pytest.mark.parametrize(
    'train_cfg',
    [
        dict(by_epoch=False, max_iters=0),
        dict(by_epoch=False, max_iters=-5),
        dict(type='IterBasedTrainLoop', max_iters=-1),
        dict(by_epoch=True, max_epochs=0),
        dict(by_epoch=True, max_epochs=-3),
    ],
)
def test_a_run_of_no_length_is_refused_naming_the_key(tmp_path, train_cfg):
    key = 'max_epochs' if 'max_epochs' in train_cfg else 'max_iters'
    r = train_runner(str(tmp_path), train_cfg, POLY)
    with pytest.raises(
        ConfigError,
        match=rf'^train_cfg\.{key}={train_cfg[key]}: a '
        'training run needs a positive length',
    ):
        r.train()
    assert not glob.glob(str(tmp_path / '*.pth'))


def test_epochs_without_a_full_batch_are_refused(tmp_path):
    """drop_last with fewer samples than a batch: every epoch would train
    nothing (mmengine then runs 0 iterations and exits 0)."""
    r = CheckedRunner(
        model=ToyModel(),
        work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=[dict(inputs=torch.ones(4))] * 3,
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=8,
            drop_last=True,
            collate_fn=dict(type='pseudo_collate'),
        ),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_scope='mmengine',
        experiment_name='no_full_batch',
    )
    with pytest.raises(
        ConfigError,
        match=r'^train_dataloader\.batch_size=8: the 3 '
        r'training sample\(s\) make no full batch '
        r'\(drop_last=True\)',
    ):
        r.train()
    assert not glob.glob(str(tmp_path / '*.pth'))


@pytest.mark.parametrize(
    'by_epoch, first, then, message',
    [
        (
            False,
            2,
            2,
            r'iter_2\.pth is at iteration 2, and train_cfg\.'
            r'max_iters=2: nothing is left to train; to train further, raise '
            r'train_cfg\.max_iters',
        ),
        (
            False,
            2,
            1,
            r'iter_2\.pth is at iteration 2, and train_cfg\.'
            r'max_iters=1',
        ),
        (
            True,
            1,
            1,
            r'epoch_1\.pth is at epoch 1 \(iteration 4\), and '
            r'train_cfg\.max_epochs=1: nothing is left',
        ),
    ],
)
def test_resuming_a_finished_run_is_refused(
    tmp_path, by_epoch, first, then, message
):
    key = 'max_epochs' if by_epoch else 'max_iters'
    work = str(tmp_path)
    train_runner(
        work, {'by_epoch': by_epoch, key: first}, POLY, by_epoch=by_epoch
    ).train()
    before = sorted(glob.glob(str(tmp_path / '*.pth')))
    r = train_runner(
        work,
        {'by_epoch': by_epoch, key: then},
        POLY,
        resume=True,
        by_epoch=by_epoch,
    )
    with pytest.raises(ConfigError, match=message):
        r.train()
    assert sorted(glob.glob(str(tmp_path / '*.pth'))) == before
    # one step more is a resume as before
    r = train_runner(
        work,
        {'by_epoch': by_epoch, key: first + 1},
        POLY,
        resume=True,
        by_epoch=by_epoch,
    )
    r.train()
    assert r.iter == (first + 1) * (4 if by_epoch else 1)


def test_resume_with_nothing_to_resume_is_refused(tmp_path):
    """mim train --resume in an empty work dir: mmengine logs 'resumed from
    None' and trains from scratch; here it is an error naming the dir."""
    r = train_runner(
        str(tmp_path), dict(by_epoch=False, max_iters=2), resume=True
    )
    with pytest.raises(
        FileNotFoundError,
        match=rf'resume: no checkpoint to resume from in '
        rf'{tmp_path} \(no last_checkpoint\)',
    ):
        r.train()
    assert not glob.glob(str(tmp_path / '*.pth'))


USER_SCHEDULE = """_base_ = 'mmseg::_base_/schedules/schedule_20k.py'
"""


@pytest.mark.parametrize(
    'config, options, eta_min',
    [
        # epoch-based, poly schedule converted to iterations (4 per epoch)
        ('st_unet_vaihingen.py', {'train_cfg.max_epochs': 3}, 0.0),
        ('st_unet_demo.py', {'train_cfg.max_iters': 7}, 0.0),
        (
            'vainf/vainf-deeplabv3plus_r50-os16_4xb4-30k_voc12aug-513x513.py',
            {'train_cfg.max_iters': 7},
            1e-6,
        ),
        # a user's config with MMSegmentation's schedule: end=20000 explicitly
        (None, {'train_cfg.max_iters': 7}, 1e-4),
    ],
)
def test_the_schedule_follows_an_overridden_run_length(
    tmp_path, config, options, eta_min
):
    """After --cfg-options train_cfg.max_iters=N (or max_epochs), the poly
    schedule reaches its final LR at the run's last iteration, not at the
    config's original length."""
    if config is None:
        path = tmp_path / 'user_schedule.py'
        path.write_text(USER_SCHEDULE)
        path = str(path)
    else:
        path = osp.join(project_root(), 'configs', config)
    cfg = load_config(path, options, str(tmp_path / 'work'))
    r = train_runner(
        str(tmp_path / 'work'),
        cfg.train_cfg,
        cfg.param_scheduler,
        optim_wrapper=cfg.optim_wrapper,
    )
    r.train()
    (lrs,) = [h.lrs for h in r._hooks if isinstance(h, RecordLR)]
    length = 12 if 'train_cfg.max_epochs' in options else 7
    assert len(lrs) == length
    assert lrs[0] == pytest.approx(cfg.optim_wrapper.optimizer.lr)
    assert lrs[-2] > eta_min
    assert lrs[-1] == pytest.approx(eta_min, abs=1e-12)


@pytest.mark.parametrize(
    'options, warning',
    [
        # the user's own end, after the run's: the LR never gets to 0
        (
            {'train_cfg.max_epochs': 3, 'param_scheduler.0.end': 5},
            r'param_scheduler PolyLR \(lr\) ends at iteration 20, after the run '
            r'\(12 iterations\): it never reaches its final value',
        ),
        (
            {'train_cfg.max_epochs': 3, 'param_scheduler.0.end': 2},
            r'param_scheduler PolyLR \(lr\) ends at iteration 8, before the run '
            r'\(12 iterations\): the iterations after it keep its last value',
        ),
    ],
)
def test_a_schedule_that_does_not_span_the_run_is_warned_about(
    tmp_path, options, warning
):
    cfg = load_config(
        osp.join(project_root(), 'configs', 'st_unet_vaihingen.py'),
        options,
        str(tmp_path / 'work'),
    )
    r = train_runner(
        str(tmp_path / 'work'),
        cfg.train_cfg,
        cfg.param_scheduler,
        optim_wrapper=cfg.optim_wrapper,
    )
    warnings = []
    r.logger.warning = warnings.append
    r.train()
    assert len(warnings) == 1 and re.match(warning, warnings[0]), warnings
