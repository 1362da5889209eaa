"""The project's runner and the config / runner helpers shared by
``tools/train.py`` and ``tools/test.py`` (MMSegmentation's tools, with this
plugin's checks)."""
import argparse
import os
import os.path as osp
from typing import Callable, Optional, Union

import torch
from mmengine.config import Config, DictAction
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop, Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from mmseg.registry import RUNNERS

from .checkpoint import check_checkpoint_fits, read_checkpoint
from .errors import USER_ERRORS, ConfigError  # noqa: F401  (for the tools)
from .optim_wrapper import check_cpu_bf16

__all__ = [
    'CheckedRunner', 'add_runner_args', 'parse_runner_args', 'load_config',
    'build_runner', 'enable_amp'
]


@RUNNERS.register_module()
class CheckedRunner(Runner):
    """mmengine's ``Runner`` that fails loudly where it would go on quietly.

    * Checkpoints are read with :func:`~.checkpoint.read_checkpoint`: a
      truncated, corrupted or unsafe file is a one-line
      :class:`~.checkpoint.CheckpointError` naming it.
    * Testing, validating and resuming refuse a checkpoint that does not fit
      the model (weights missing or of another shape): mmengine loads what
      fits and logs the rest, so a DeepLabV3+ checkpoint tested with the
      ST-UNet config scores random weights with exit code 0. The config key
      ``allow_partial_checkpoint=True`` (``tools/test.py --allow-partial``)
      loads what fits. ``load_from`` for training (fine-tuning) stays
      lenient, as in mmengine.
    * ``iter`` and ``epoch`` of a runner that never built its training loop
      are 0; mmengine builds the training data loader to answer, so a test
      run whose hooks ask for the step (``SegVisualizationHook`` on every
      image) failed without the training data.

    * ``channels_last=True`` in the config puts the model's weights in the
      channels-last memory format before it is wrapped (convolutions then
      run channels-last on CPU and CUDA; see :func:`enable_amp`).

    The project's runtime config selects it with ``runner_type``, so
    MMSegmentation's own ``tools/test.py`` and ``mim test`` use it too.
    """

    _fit_required = False

    def wrap_model(self, model_wrapper_cfg: Optional[dict],
                   model: torch.nn.Module) -> torch.nn.Module:
        if self.cfg.get('channels_last', False):
            model = model.to(memory_format=torch.channels_last)
        return super().wrap_model(model_wrapper_cfg, model)

    @property
    def iter(self) -> int:
        loop = self._train_loop
        return loop.iter if isinstance(loop, BaseLoop) else 0

    @property
    def epoch(self) -> int:
        loop = self._train_loop
        return loop.epoch if isinstance(loop, BaseLoop) else 0

    def _strictly(self, run: Callable, *args, **kwargs):
        self._fit_required = not self.cfg.get('allow_partial_checkpoint',
                                              False)
        try:
            return run(*args, **kwargs)
        finally:
            self._fit_required = False

    def test(self) -> dict:
        return self._strictly(super().test)

    def val(self) -> dict:
        return self._strictly(super().val)

    def resume(self, filename: str, *args, **kwargs) -> None:
        return self._strictly(super().resume, filename, *args, **kwargs)

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]) -> dict:
        """``Runner.load_checkpoint`` with :func:`read_checkpoint` and,
        when testing, validating or resuming, the fit check."""
        checkpoint = read_checkpoint(filename, map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) \
            else self.model
        if self._fit_required:
            unexpected = check_checkpoint_fits(model, checkpoint, filename,
                                               revise_keys)
            if unexpected:
                self.logger.warning(
                    f'{filename}: {len(unexpected)} weights not in the '
                    f'model are ignored (e.g. {", ".join(unexpected[:3])})')
        checkpoint = _load_checkpoint_to_model(
            model, checkpoint, strict, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint


def add_runner_args(
        parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options both tools share: ``--work-dir``, ``--cfg-options``,
    ``--launcher`` and the ``--local-rank`` that launchers pass."""
    parser.add_argument('--work-dir', help='the dir for logs, checkpoints '
                        'and metrics')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def parse_runner_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, and export ``LOCAL_RANK`` for mmengine if no launcher did."""
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(path: str,
                cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """Read ``path`` the way MMSegmentation's tools do and apply the CLI.

    The work dir defaults to ``./work_dirs/<config name>``. Without CUDA a
    distributed launch initialises gloo instead of NCCL and wraps the model
    in ``CPUDistributedDataParallel``
    (:mod:`mmseg_stunet.engine.cpu_distributed`), so ``dist_train.sh`` runs
    on CPU-only machines.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    if launcher != 'none':
        import torch
        if not torch.cuda.is_available():
            from .cpu_distributed import patch_init_dist_for_cpu, use_cpu_ddp
            patch_init_dist_for_cpu()
            use_cpu_ddp(cfg)
    return cfg


def build_runner(cfg: Config) -> Runner:
    """Build ``cfg.runner_type`` if set, else mmengine's ``Runner``."""
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def enable_amp(cfg: Config) -> Config:
    """Mixed precision for ``cfg`` (what ``--amp`` and the ``*_amp``
    configs do): :class:`~.optim_wrapper.MixedPrecisionOptimWrapper`
    (float16 with loss scaling on CUDA, bfloat16 on CPU), autocast in
    validation and testing, and channels-last weights.

    Raises:
        ConfigError: on a CPU without native bfloat16, saying so.
    """
    if not torch.cuda.is_available():
        check_cpu_bf16()
    if cfg.get('optim_wrapper') is not None:
        cfg.optim_wrapper.type = 'MixedPrecisionOptimWrapper'
    for loop in ('val_cfg', 'test_cfg'):
        if cfg.get(loop) is not None:
            cfg[loop]['fp16'] = True
    cfg.channels_last = True
    return cfg
