"""The training run's length: refused when it trains nothing, followed by
the learning-rate schedules.

mmengine takes ``train_cfg.max_iters=-5`` (or ``max_epochs=0``, or a
``--resume`` of a finished run) and trains nothing with exit code 0, and a
scheduler's ``end`` stays where the config put it when the run's length is
overridden (the paper's poly schedule then ends at a learning rate of
6.4e-3, not 0). :class:`~mmseg_stunet.engine.runner.CheckedRunner` and
:func:`~mmseg_stunet.engine.runner.load_config` use these helpers.
"""

from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.config import Config
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmengine.runner import BaseLoop, EpochBasedTrainLoop

from .errors import ConfigError

__all__ = [
    'run_length',
    'check_run_length',
    'check_not_finished',
    'schedule_mismatches',
    'follow_run_length',
]

Schedulers = Union[
    Sequence[_ParamScheduler], Dict[str, Sequence[_ParamScheduler]]
]


def run_length(loop: BaseLoop) -> Tuple[str, int, int]:
    """``(config key, length, progress)`` of a training loop in the unit
    its config counts: ``('train_cfg.max_epochs', 100, epochs done)`` for
    epoch-based loops, ``('train_cfg.max_iters', N, iterations done)``
    otherwise."""
    if isinstance(loop, EpochBasedTrainLoop):
        return 'train_cfg.max_epochs', loop.max_epochs, loop.epoch
    return 'train_cfg.max_iters', loop.max_iters, loop.iter


def check_run_length(loop: BaseLoop) -> None:
    """Raise :class:`ConfigError` naming the key if ``loop`` would train
    nothing: a length of 0 or less, or epochs without a single batch (fewer
    training samples than ``train_dataloader.batch_size`` with the
    ``drop_last=True`` of the project's configs)."""
    key, length, _ = run_length(loop)
    if length <= 0:
        unit = 'epochs' if key.endswith('epochs') else 'iterations'
        raise ConfigError(
            f'{key}={length}: a training run needs a positive '
            f'length; set {key} to the number of {unit} to '
            'train'
        )
    loader = getattr(loop, 'dataloader', None)
    if isinstance(loop, EpochBasedTrainLoop) and len(loader) == 0:
        raise ConfigError(
            f'train_dataloader.batch_size={loader.batch_size}: the '
            f'{len(loader.dataset)} training sample(s) make no full batch '
            f'(drop_last={loader.drop_last}), so every epoch would train '
            'nothing; lower train_dataloader.batch_size or add data'
        )


def check_not_finished(loop: BaseLoop, checkpoint: Optional[str]) -> None:
    """Raise :class:`ConfigError` if the resumed ``loop`` is already at or
    past its end: it would train nothing and exit as if it had."""
    key, length, done = run_length(loop)
    if done < length:
        return
    if key.endswith('epochs'):
        where = f'epoch {done} (iteration {loop.iter})'
    else:
        where = f'iteration {done}'
    raise ConfigError(
        f'{checkpoint or "the resumed checkpoint"} is at {where}, and '
        f'{key}={length}: nothing is left to train; to train further, '
        f'raise {key} (--cfg-options {key}=N)'
    )


def _unit_end(scheduler: _ParamScheduler, loop: BaseLoop) -> Tuple[int, str]:
    """The run's end in the scheduler's unit, and that unit."""
    if scheduler.by_epoch:
        return loop.max_epochs, 'epoch'
    return loop.max_iters, 'iteration'


def schedule_mismatches(schedulers: Schedulers, loop: BaseLoop) -> List[str]:
    """One warning per way the schedulers do not fit the run's length: a
    scheduler that ends after the run does (the run stops before the
    schedule's final value), and the last-ending scheduler ending before
    the run does (the value stays at its last one for the rest)."""
    if isinstance(schedulers, dict):
        groups = list(schedulers.values())
    else:
        groups = [schedulers or []]
    messages = []
    for group in groups:
        ends = []
        for s in group:
            if not isinstance(s, _ParamScheduler) or s.end >= INF:
                continue
            run_end, unit = _unit_end(s, loop)
            name = f'param_scheduler {type(s).__name__} ({s.param_name})'
            if s.begin < run_end < s.end:
                messages.append(
                    f'{name} ends at {unit} {s.end}, after the run '
                    f'({run_end} {unit}s): it never reaches its final value; '
                    'leave its `end` unset to follow the run'
                )
            ends.append((s.end / max(run_end, 1), s.end, run_end, unit, name))
        if ends:
            _, end, run_end, unit, name = max(ends)
            if end < run_end:
                messages.append(
                    f'{name} ends at {unit} {end}, before the run '
                    f'({run_end} {unit}s): the {unit}s after it keep its last '
                    'value; leave its `end` unset to follow the run'
                )
    return messages


def _length_key(train_cfg: dict) -> Optional[str]:
    for key in ('max_iters', 'max_epochs'):
        if key in train_cfg:
            return key
    return None


def follow_run_length(
    cfg: Config, original_train_cfg: dict, cfg_options: Optional[dict]
) -> List[str]:
    """Make schedulers whose ``end`` was the config's run length follow a
    run length overridden by ``cfg_options``: their ``end`` is removed,
    and mmengine then ends them with the training loop. A scheduler whose
    ``end`` is itself among ``cfg_options`` stays as set. Returns a note
    per scheduler changed."""
    train_cfg = cfg.get('train_cfg') or {}
    key = _length_key(train_cfg)
    if key is None or _length_key(original_train_cfg) != key:
        return []
    old, new = original_train_cfg[key], train_cfg[key]
    schedulers = cfg.get('param_scheduler')
    if old == new or not schedulers:
        return []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    given = {k for k in (cfg_options or {}) if k.startswith('param_scheduler')}
    notes = []
    for i, s in enumerate(schedulers):
        by_epoch = s.get('by_epoch', True)
        if (
            s.get('end') != old
            or by_epoch != (key == 'max_epochs')
            or given
            & {
                'param_scheduler',
                f'param_scheduler.{i}',
                f'param_scheduler.{i}.end',
            }
        ):
            continue
        del s['end']
        notes.append(
            f'param_scheduler.{i} ({s.get("type")}) ends with the '
            f'run: train_cfg.{key}={new} (was {old})'
        )
    return notes
