"""Resumed runs see the data in the order the interrupted run would have."""

import copy

from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.runner.loops import _InfiniteDataloaderIterator
from mmseg.registry import HOOKS


@HOOKS.register_module()
class ResumeDataOrderHook(Hook):
    """Rebuild the training data loader with the resumed run's seed.

    MMEngine builds the data loader (sampler order, worker seeds) with the
    seed of the new process before ``--resume`` restores the checkpoint's
    seed; unless the config fixes ``randomness.seed``, a resumed run thus
    trains on a different sample order than the run it continues. This
    hook rebuilds the loader with the restored seed before the training
    loop skips the batches already seen, so iteration ``k`` gets the same
    samples with or without the interruption.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner: Runner) -> None:
        loop = runner.train_loop
        sampler = getattr(loop.dataloader, 'sampler', None)
        if (
            loop.iter == 0
            or getattr(sampler, 'seed', runner.seed) == runner.seed
        ):
            return
        diff_rank_seed = runner._randomness_cfg.get('diff_rank_seed', False)
        loop.dataloader = runner.build_dataloader(
            copy.deepcopy(runner.cfg.train_dataloader),
            seed=runner.seed,
            diff_rank_seed=diff_rank_seed,
        )
        if hasattr(loop, 'dataloader_iterator'):  # iteration-based loops
            loop.dataloader_iterator = _InfiniteDataloaderIterator(
                loop.dataloader
            )
        runner.logger.info(
            f'rebuilt the training data loader with the '
            f'resumed seed {runner.seed}'
        )
