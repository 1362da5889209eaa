"""Checkpoint saving that a kill at any moment cannot corrupt."""

import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.runner import Runner
from mmseg.registry import HOOKS

from ...utils.atomic import atomic_write


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """:class:`~mmengine.hooks.CheckpointHook` whose files are never half
    written.

    MMEngine writes ``iter_N.pth`` and ``last_checkpoint`` in place and,
    with ``max_keep_ckpts``, deletes the oldest checkpoint before the new one
    exists, so a kill while saving can leave ``last_checkpoint`` naming a
    truncated or deleted file and ``--resume`` fails. Here the checkpoint is
    written to a hidden ``.iter_N.pth.partial.pth`` beside it, flushed and
    renamed, then ``last_checkpoint`` is replaced the same way, and only then
    are old checkpoints removed. Takes the arguments of ``CheckpointHook``;
    non-local back-ends (object stores) fall back to its behaviour.
    """

    def before_train(self, runner: Runner) -> None:
        super().before_train(runner)
        if is_main_process() and isinstance(self.file_backend, LocalBackend):
            for stale in glob.glob(osp.join(self.out_dir, '.*.partial*')):
                os.remove(stale)  # left by a run killed while saving

    def _save_checkpoint_with_step(
        self, runner: Runner, step: int, meta: dict
    ) -> None:
        if not isinstance(self.file_backend, LocalBackend):
            return super()._save_checkpoint_with_step(runner, step, meta)
        drop = None
        if self.max_keep_ckpts > 0 and not (
            self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step
        ):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                drop = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info(
                'keep_ckpt_ids', list(self.keep_ckpt_ids)
            )
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        if not is_main_process():
            return  # Runner.save_checkpoint writes on the main process only
        with atomic_write(self.last_ckpt, durable=True) as tmp:
            runner.save_checkpoint(
                self.out_dir,
                osp.basename(tmp),
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args,
            )
        with atomic_write(
            osp.join(runner.work_dir, 'last_checkpoint'), durable=True
        ) as tmp:
            with open(tmp, 'w') as f:
                f.write(self.last_ckpt)
        if drop is not None:
            old = osp.join(self.out_dir, self.filename_tmpl.format(drop))
            if osp.isfile(old):
                os.remove(old)
