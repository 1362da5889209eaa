"""DivergenceHook, as the project's runtime config installs it: training
stops at the first NaN or inf loss in one line naming the iteration and the
loss terms, keeps the last good checkpoint and never writes non-finite
weights; a step that a loss scaler skips (finite loss, overflowing
gradients, as float16 AMP does on purpose) does not stop it."""

import glob
import os.path as osp

import pytest
import torch
from helpers import tiny_config, tiny_data_options, write_shapes_dataset
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

from mmseg_stunet.engine import DivergenceError
from mmseg_stunet.engine.runner import build_runner, load_config


@OPTIM_WRAPPERS.register_module(force=True)
class ScaledOptimWrapper(OptimWrapper):
    """``OptimWrapper`` with torch's dynamic loss scaler, on CPU: like
    mmengine's ``AmpOptimWrapper`` on CUDA, it skips a step whose gradients
    are not finite and lowers the scale."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.scaler = torch.amp.GradScaler('cpu')

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        self.scaler.scale(loss).backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs) -> None:
        self.scaler.step(self.optimizer, **kwargs)
        self.scaler.update()


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_shapes_dataset(str(tmp_path_factory.mktemp('shapes')))


def poisoned_runner(
    data: str, work: str, where: str, value: float, at: int, **options
):
    """The tiny FCN config, 4 iterations, a checkpoint after each; from
    the ``at``-th step on, ``value`` multiplies the decode head's loss
    (``where='loss'``) or the gradient of its classifier (``'grad'``)."""
    cfg = load_config(
        tiny_config(),
        {
            **tiny_data_options(data),
            'train_cfg.max_iters': 4,
            'param_scheduler.0.end': 4,
            **options,
        },
        work,
    )
    runner = build_runner(cfg)
    head = runner.model.decode_head
    steps = []
    real_loss = head.loss

    def loss(*args, **kwargs):
        steps.append(len(steps) + 1)
        losses = real_loss(*args, **kwargs)
        if where == 'loss' and steps[-1] >= at:
            losses['loss_ce'] = losses['loss_ce'] * value
        return losses

    head.loss = loss
    head.conv_seg.weight.register_hook(
        lambda g: g * value if where == 'grad' and steps[-1] >= at else g
    )
    return runner


def saved(work: str) -> dict:
    """Iteration -> first non-finite weight (or None) of each checkpoint."""
    out = {}
    for path in glob.glob(osp.join(work, 'iter_*.pth')):
        sd = torch.load(path, map_location='cpu')['state_dict']
        bad = [
            k
            for k, v in sd.items()
            if v.is_floating_point() and not torch.isfinite(v).all()
        ]
        out[int(osp.basename(path)[5:-4])] = bad[0] if bad else None
    return out


@pytest.mark.parametrize(
    'where, value, at, message',
    [
        (
            'loss',
            float('nan'),
            3,
            r'training diverged at iteration 3: '
            r'loss=nan, decode\.loss_ce=nan; the last checkpoint, \S+iter_2\.'
            r'pth, is kept',
        ),
        (
            'loss',
            float('inf'),
            3,
            r'at iteration 3: loss=inf, '
            r'decode\.loss_ce=inf; ',
        ),
        (
            'loss',
            float('nan'),
            1,
            r'at iteration 1: loss=nan, decode\.'
            r'loss_ce=nan; no checkpoint was saved\. Lower the learning rate',
        ),
        # a finite loss whose step overflowed the weights: refused at saving
        (
            'grad',
            float('inf'),
            3,
            r'training diverged by iteration 3: '
            r'weight decode_head\.conv_seg\.weight \(\d+ of 48 values NaN or '
            r'inf\) with a finite loss; that checkpoint is not saved; the last '
            r'checkpoint, \S+iter_2\.pth, is kept',
        ),
    ],
)
def test_divergence_stops_at_the_first_non_finite_loss(
    data, tmp_path, where, value, at, message
):
    work = str(tmp_path / 'work')
    runner = poisoned_runner(data, work, where, value, at)
    with pytest.raises(DivergenceError, match=message) as err:
        runner.train()
    assert '\n' not in str(err.value)
    kept = saved(work)
    assert kept == {i: None for i in range(1, at)}  # all finite, none after
    if at > 1:
        with open(osp.join(work, 'last_checkpoint')) as f:
            assert f.read().strip().endswith(f'iter_{at - 1}.pth')


def test_a_step_skipped_by_the_loss_scaler_does_not_stop_training(
    data, tmp_path
):
    """Gradients of inf with a finite loss: the scaler skips those steps
    (and lowers its scale), the run goes on, every checkpoint is finite."""
    work = str(tmp_path / 'work')
    runner = poisoned_runner(
        data,
        work,
        'grad',
        float('inf'),
        3,
        **{'optim_wrapper.type': 'ScaledOptimWrapper'},
    )
    runner.train()
    assert saved(work) == {1: None, 2: None, 3: None, 4: None}
    assert runner.optim_wrapper.scaler.get_scale() < 2.0**16
