"""Checkpoints that cannot be read, hold NaN or inf, or do not fit stop a
run, named; so does a resume with nothing to resume."""

import os.path as osp
from typing import Optional

from mmengine.hooks import Hook
from mmengine.runner import BaseLoop, Runner
from mmseg.registry import HOOKS

from ..checkpoint import (
    check_checkpoint_fits,
    check_finite_weights,
    check_readable,
    latest_checkpoint,
)


@HOOKS.register_module()
class CheckpointCheckHook(Hook):
    """Refuse a checkpoint that cannot be read or holds NaN or inf, or that
    does not fit the model when testing, validating or resuming; refuse a
    resume with no checkpoint to resume from.

    mmengine loads what fits and logs the rest, so a DeepLabV3+ checkpoint
    tested with the ST-UNet config scores random weights with exit code 0,
    and a truncated file fails deep in torch with advice to disable
    ``weights_only``. This hook checks the file before the run (without
    reading its tensors) and, when the runner hands over the loaded
    checkpoint, its fit: weights missing or of another shape raise
    :class:`~mmseg_stunet.engine.errors.CheckpointError` with counts and a
    few keys, unless the config sets ``allow_partial_checkpoint=True``
    (``tools/test.py --allow-partial``). ``load_from`` for training
    (fine-tuning) stays lenient, as in mmengine. A checkpoint with NaN or
    inf weights (:func:`~mmseg_stunet.engine.checkpoint.check_finite_weights`)
    is refused in every case: it would be scored as a model that predicts
    class 0 everywhere.

    ``resume=True`` without ``load_from`` resumes from the work dir's
    ``last_checkpoint``; mmengine trains from scratch when there is none
    (logging "resumed from ... None"), which under ``mim train --resume``
    silently restarts a run. Here that raises ``FileNotFoundError`` naming
    the work dir. (``tools/train.py`` checks ``--resume`` itself and treats
    ``resume = True`` in a config as "resume if possible", saying so.)

    In the project's runtime config, so ``tools/test.py``, ``mim test`` and
    ``tools/train.py --resume`` all use it.
    """

    priority = 'VERY_HIGH'

    def _source(self, runner: Runner) -> Optional[str]:
        if runner._resume and runner._load_from is None:
            return latest_checkpoint(runner.work_dir)
        return runner._load_from

    def before_run(self, runner: Runner) -> None:
        source = self._source(runner)
        if (
            runner._resume
            and source is None
            and isinstance(runner._train_loop, BaseLoop)
        ):
            raise FileNotFoundError(
                f'resume: no checkpoint to resume from in {runner.work_dir} '
                '(no last_checkpoint); train without --resume, or name the '
                'checkpoint (tools/train.py --resume CKPT, or load_from=CKPT)'
            )
        if source and '://' not in source:  # local files only
            check_readable(
                source, '--resume' if runner._resume else 'load_from'
            )

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        source = self._source(runner) or 'the checkpoint'
        check_finite_weights(checkpoint, source)
        training = isinstance(runner._train_loop, BaseLoop)
        if (training and not runner._resume) or runner.cfg.get(
            'allow_partial_checkpoint', False
        ):
            return
        hint = None
        if training:  # tools/train.py has no --allow-partial
            hint = (
                "Resume from a checkpoint of this config's model, or "
                'set allow_partial_checkpoint=True in the config to load '
                'what fits'
            )
        unexpected = check_checkpoint_fits(
            runner.model, checkpoint, source, hint=hint
        )
        if unexpected:
            runner.logger.warning(
                f'{osp.basename(source)}: {len(unexpected)} weights not in '
                f'the model are ignored (e.g. {", ".join(unexpected[:3])})'
            )
