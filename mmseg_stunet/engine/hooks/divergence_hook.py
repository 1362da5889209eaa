"""Training that diverges stops at the first non-finite loss, and never
saves non-finite weights."""

import math
import os.path as osp
from typing import Mapping, Optional, Sequence, Union

import torch
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop, Runner
from mmseg.registry import HOOKS

from ..checkpoint import latest_checkpoint, non_finite_weight
from ..errors import DivergenceError

DATA_BATCH = Optional[Union[dict, tuple, list]]


@HOOKS.register_module()
class DivergenceHook(Hook):
    """Stop training at the first iteration whose loss is NaN or inf.

    mmengine logs ``loss: nan`` and goes on: the optimizer steps on NaN
    gradients, every later checkpoint holds NaN weights (tested, they
    score as a model that predicts class 0 everywhere), ``last_checkpoint``
    names one of them and the run exits 0. This hook raises
    :class:`~mmseg_stunet.engine.errors.DivergenceError` (one line: the
    iteration, the total loss and every loss term by name and value, the
    last checkpoint kept) before any other hook of that iteration runs, so
    the checkpoint hook saves nothing after the divergence and
    ``last_checkpoint`` keeps naming the last good checkpoint.

    Only the loss counts, not the gradients: with float16 mixed precision
    the loss scaler skips steps whose gradients overflow, on purpose, and
    the run goes on with finite weights. Weights that became non-finite
    while the loss stayed finite (an overflow in an optimizer step) are
    caught when a checkpoint is about to be saved: it is not written.

    In the project's runtime config, so ``tools/train.py`` and ``mim
    train`` stop this way.
    """

    priority = 'VERY_HIGH'  # before the logger and the checkpoint hook

    def after_train_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: Optional[Mapping] = None,
    ) -> None:
        if not outputs:
            return
        losses = {k: _value(v) for k, v in outputs.items() if 'loss' in k}
        if all(math.isfinite(v) for v in losses.values()):
            return
        terms = ', '.join(f'{k}={v:.4g}' for k, v in losses.items())
        raise DivergenceError(
            f'training diverged at {_step(runner, runner.iter + 1)}: '
            f'{terms}; {_kept(runner)}. Lower the learning rate, clip '
            'gradients (optim_wrapper.clip_grad) or check the data'
        )

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        bad = non_finite_weight(checkpoint.get('state_dict', {}))
        if bad:
            meta = checkpoint.get('meta', {})
            raise DivergenceError(
                f'training diverged by {_step(runner, meta.get("iter"))}: '
                f'weight {bad} with a finite loss; that checkpoint is not '
                f'saved; {_kept(runner)}. Lower the learning rate or clip '
                'gradients (optim_wrapper.clip_grad)'
            )


def _value(value: Union[torch.Tensor, float, Sequence]) -> float:
    """A logged loss as a float (a tensor's mean, as mmengine logs it);
    detached first (torch warns on a scalar of a tensor that needs grad)."""
    if isinstance(value, torch.Tensor):
        value = value.detach()
    elif isinstance(value, (list, tuple)):
        value = [
            v.detach() if isinstance(v, torch.Tensor) else v for v in value
        ]
    return float(torch.as_tensor(value, dtype=torch.float64).mean())


def _step(runner: Runner, iteration: Optional[int]) -> str:
    """``'iteration 7'``, or ``'iteration 7 (epoch 2)'`` for epoch-based
    training (1-based, as the log counts)."""
    text = f'iteration {iteration}'
    if isinstance(runner.train_loop, EpochBasedTrainLoop):
        text += f' (epoch {runner.epoch + 1})'
    return text


def _kept(runner: Runner) -> str:
    """Which checkpoint ``last_checkpoint`` names (checkpoint hooks update
    it after a checkpoint is written whole)."""
    last = latest_checkpoint(runner.work_dir)
    if last and osp.isfile(last):
        return f'the last checkpoint, {last}, is kept'
    return 'no checkpoint was saved'
