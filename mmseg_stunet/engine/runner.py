"""Config loading and runner building shared by ``tools/train.py`` and
``tools/test.py`` (MMSegmentation's tools, with this plugin's checks)."""
import argparse
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

__all__ = [
    'add_runner_args', 'parse_runner_args', 'load_config', 'build_runner'
]


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
        from mmseg.registry import RUNNERS
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
