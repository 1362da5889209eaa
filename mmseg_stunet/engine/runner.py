"""The project's runner and the config / runner helpers shared by
``tools/train.py`` and ``tools/test.py`` (MMSegmentation's tools, with this
plugin's checks)."""

import copy
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger, print_log
from mmengine.runner import BaseLoop, Runner
from mmseg.registry import RUNNERS

from ..utils.notices import KnownNoticeFilter, silence_known_notices
from .checkpoint import in_work_dir, latest_checkpoint
from .config_check import check_cfg_options, check_types, read_config_file
from .errors import USER_ERRORS, ConfigError  # noqa: F401  (for the tools)
from .optim_wrapper import check_cpu_bf16
from .run_length import (
    check_not_finished,
    check_run_length,
    follow_run_length,
    schedule_mismatches,
)
from .runner_args import add_runner_args, parse_runner_args

__all__ = [
    'CheckedRunner',
    'usable_cpus',
    'fit_num_workers',
    'add_runner_args',
    'parse_runner_args',
    'load_config',
    'build_runner',
    'enable_amp',
    'dataset_paths',
    'rebase_checkpoint_paths',
    'check_predictions',
]


@RUNNERS.register_module()
class CheckedRunner(Runner):
    """mmengine's ``Runner`` with repairs for this project's tools.

    * ``iter`` and ``epoch`` of a runner that never built its training loop
      are 0; mmengine builds the training data loader to answer, so a test
      run whose hooks ask for the step (``SegVisualizationHook`` drawing
      every image, ``tools/test.py --show-dir``) failed without the
      training data.
    * ``channels_last=True`` in the config puts the model's weights in the
      channels-last memory format before it is wrapped (convolutions then
      run channels-last on CPU and CUDA; see :func:`enable_amp`).
    * mmengine's notices about its own internals are kept out of the log,
      and the known third-party warnings
      (:data:`~mmseg_stunet.utils.notices.KNOWN_NOTICES`) are silenced when
      the runner is built, as the project's tools silence them: so also
      under MMSegmentation's own tools (``mim train/test mmseg``), which
      build this runner from ``runner_type``.
    * A copied or moved work dir resumes from its own checkpoint and never
      touches the original: ``last_checkpoint`` is read with
      :func:`~.checkpoint.latest_checkpoint`, and the absolute checkpoint
      paths that the resumed message hub carries (``last_ckpt``,
      ``best_ckpt``, ``best_ckpt_<metric>``, which ``CheckpointHook``
      deletes when it saves a new best) are rebased into the work dir, or
      forgotten when the work dir has no such file.
    * A training run that would train nothing is refused with
      :class:`~.errors.ConfigError` naming the key: a length of 0 or less
      (``train_cfg.max_iters=-5``), checked before the schedulers are
      built, or a resume of a run already at or past its end, naming the
      checkpoint's step. mmengine trains nothing and exits 0.
    * Learning-rate (and momentum) schedules that do not span the run
      (checked after a resume, which restores the schedulers' ``end``) are
      warned about (:func:`~.run_length.schedule_mismatches`).

    * A data loader's ``num_workers`` above the CPUs this process may use
      (:func:`usable_cpus`; the configs ask for 4) is lowered to them, with
      one line in the log (:func:`fit_num_workers`): torch warns about more
      workers than CPUs, and they only compete for the cores.

    * A runner whose construction fails (a config whose model cannot be
      built) removes the log folder it made, and the work dir when it
      made it and left it empty: a refused config writes nothing.

    Checkpoint checks live in :class:`~.hooks.CheckpointCheckHook`, which
    also works under MMSegmentation's own ``tools/test.py`` (``mim test``),
    which ignores ``runner_type``. The project's runtime config selects this
    runner with ``runner_type``.
    """

    def __init__(self, *args, **kwargs) -> None:
        work_dir = kwargs.get('work_dir', args[1] if len(args) > 1 else None)
        new_work_dir = isinstance(work_dir, str) and not osp.exists(work_dir)
        silence_known_notices()
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            # a config that fails to build leaves no log folder behind
            log_dir = getattr(self, '_log_dir', None)
            if log_dir and osp.isdir(log_dir):
                shutil.rmtree(log_dir, ignore_errors=True)
            if (
                new_work_dir
                and osp.isdir(work_dir)
                and not os.listdir(work_dir)
            ):
                os.rmdir(work_dir)
            raise

    @property
    def iter(self) -> int:
        loop = self._train_loop
        return loop.iter if isinstance(loop, BaseLoop) else 0

    @property
    def epoch(self) -> int:
        loop = self._train_loop
        return loop.epoch if isinstance(loop, BaseLoop) else 0

    @staticmethod
    def build_dataloader(dataloader, *args, **kwargs):
        if isinstance(dataloader, dict):
            dataloader = fit_num_workers(dataloader)
        return Runner.build_dataloader(dataloader, *args, **kwargs)

    def build_train_loop(self, loop) -> BaseLoop:
        loop = super().build_train_loop(loop)
        check_run_length(loop)
        return loop

    def load_or_resume(self) -> None:
        # a copied or moved work dir resumes from its own last checkpoint
        if self._resume and self._load_from is None:
            self._load_from = latest_checkpoint(self.work_dir)
        training = isinstance(self._train_loop, BaseLoop)
        resumed = None
        if training and self._resume and not self._has_loaded:
            resumed = self._load_from
        super().load_or_resume()
        if not training:
            return
        if resumed is not None:
            check_not_finished(self._train_loop, resumed)
        if self.param_schedulers is not None:
            for message in schedule_mismatches(
                self.param_schedulers, self._train_loop
            ):
                self.logger.warning(message)

    def build_logger(self, *args, **kwargs) -> MMLogger:
        """mmengine's logger without its notices about its own internals
        (:class:`~mmseg_stunet.utils.notices.KnownNoticeFilter`)."""
        logger = super().build_logger(*args, **kwargs)
        for handler in logger.handlers:
            handler.addFilter(KnownNoticeFilter())
        return logger

    def resume(self, filename: str, *args, **kwargs) -> None:
        super().resume(filename, *args, **kwargs)
        rebase_checkpoint_paths(
            self.message_hub.runtime_info,
            self.work_dir,
            self.message_hub.update_info,
        )

    def wrap_model(
        self, model_wrapper_cfg: Optional[dict], model: torch.nn.Module
    ) -> torch.nn.Module:
        if self.cfg.get('channels_last', False):
            model = model.to(memory_format=torch.channels_last)
        return super().wrap_model(model_wrapper_cfg, model)


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the system
    has one, as torch's ``DataLoader`` counts them), at least 1."""
    if hasattr(os, 'sched_getaffinity'):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def fit_num_workers(dataloader: dict, cpus: Optional[int] = None) -> dict:
    """``dataloader`` (a data loader config) with ``num_workers`` lowered
    to ``min(num_workers, cpus)``, ``cpus`` defaulting to
    :func:`usable_cpus`; a copy when changed, logged in one line. 0 (load
    in the main process) and values that fit are left as they are."""
    cpus = usable_cpus() if cpus is None else cpus
    asked = dataloader.get('num_workers', 0)
    if not isinstance(asked, int) or asked <= cpus:
        return dataloader
    dataloader = copy.copy(dataloader)
    dataloader['num_workers'] = cpus
    print_log(
        f'num_workers={asked} lowered to {cpus}, the CPUs this process may '
        'use',
        logger='current',
    )
    return dataloader


def rebase_checkpoint_paths(info: Dict, work_dir: str, update) -> List[str]:
    """Point the checkpoint paths of a resumed message hub's ``info``
    (``last_ckpt``, ``best_ckpt``, ``best_ckpt_<metric>``) into
    ``work_dir`` via ``update(key, value)``: a path outside it becomes the
    work dir's file of that name, or None when there is none (then nothing
    outside the work dir is ever deleted). Returns the keys changed."""
    changed = []
    for key, path in list(info.items()):
        if not (
            key in ('last_ckpt', 'best_ckpt') or key.startswith('best_ckpt_')
        ) or not isinstance(path, str):
            continue
        if '://' in path:
            continue
        local = in_work_dir(path, work_dir)
        if local != path:
            update(key, local)
            changed.append(key)
    return changed


def load_config(
    path: str,
    cfg_options: Optional[dict] = None,
    work_dir: Optional[str] = None,
    launcher: str = 'none',
    needs: Sequence[str] = (),
) -> Config:
    """Read ``path`` the way MMSegmentation's tools do and apply the CLI.

    The file, ``needs`` (the keys the tool cannot do without), the
    ``cfg_options`` and the ``type`` names are checked first, with one-line
    errors (:mod:`~.config_check`).

    The work dir defaults to ``./work_dirs/<config name>``. Schedulers
    whose ``end`` equals the config's run length follow a run length that
    ``cfg_options`` override (:func:`~.run_length.follow_run_length`; the
    project's configs leave ``end`` unset, which mmengine resolves to the
    run's length). Without CUDA a distributed launch initialises gloo
    instead of NCCL and wraps the model in ``CPUDistributedDataParallel``
    (:mod:`mmseg_stunet.engine.cpu_distributed`), so ``dist_train.sh`` runs
    on CPU-only machines.
    """
    cfg = read_config_file(path, needs)
    cfg.launcher = launcher
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        original_train_cfg = copy.deepcopy(cfg.get('train_cfg') or {})
        cfg.merge_from_dict(cfg_options)
        for note in follow_run_length(cfg, original_train_cfg, cfg_options):
            print_log(note, logger='current')
    check_types(cfg, path)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join(
            './work_dirs', osp.splitext(osp.basename(path))[0]
        )
    if launcher != 'none':
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


def dataset_paths(
    cfg: Config, loader: str = 'test_dataloader'
) -> Dict[str, str]:
    """The folders and files ``cfg.<loader>`` reads: ``data_root``, the
    ``data_prefix`` folders (joined to ``data_root`` as mmengine's
    ``BaseDataset`` joins them) and ``ann_file``, through wrappers
    (``dataset`` / ``datasets``); keyed by their config keys, for
    :func:`~mmseg_stunet.utils.paths.check_outputs`."""
    found: Dict[str, str] = {}

    def visit(ds, key: str) -> None:
        if isinstance(ds, (list, tuple)):
            for i, d in enumerate(ds):
                visit(d, f'{key}[{i}]')
            return
        if not isinstance(ds, dict):
            return
        root = ds.get('data_root') or ''
        if root:
            found[f'{key}.data_root'] = root
        prefixes = dict(ds.get('data_prefix') or {})
        if ds.get('ann_file'):
            prefixes['ann_file'] = ds['ann_file']
        for name, prefix in prefixes.items():
            if isinstance(prefix, str) and prefix:
                sub = (
                    'ann_file' if name == 'ann_file' else f'data_prefix.{name}'
                )
                found[f'{key}.{sub}'] = osp.join(root, prefix)
        visit(ds.get('dataset'), f'{key}.dataset')
        visit(ds.get('datasets'), f'{key}.datasets')

    visit((cfg.get(loader) or {}).get('dataset'), f'{loader}.dataset')
    return found


def check_predictions(folder: str, expected: int, out: str) -> None:
    """Raise unless ``folder`` holds ``expected`` non-empty files: writers
    such as ``cv2.imwrite`` report a full disk only by a return value that
    metrics may ignore, leaving 0-byte or missing PNGs (and predictions of
    images with the same file name overwrite each other).

    Raises:
        OSError: one line naming ``out`` and an empty file or the count.
    """
    names = sorted(os.listdir(folder))
    empty = [n for n in names if osp.getsize(osp.join(folder, n)) == 0]
    if empty or len(names) < expected:
        what = (
            f'{empty[0]} was written empty'
            if empty
            else f'only {len(names)} of {expected} predictions were written'
        )
        raise OSError(
            f'--out {out}: {what} (disk full, folder not '
            'writable, or test images that share a file name?); '
            '--out is left as it was'
        )
