"""The command-line options ``tools/train.py`` and ``tools/test.py`` share.

Light on purpose (argparse and :mod:`mmseg_stunet.utils.cli` only): the
tools build their parser and answer ``--help`` before torch or
MMSegmentation is imported. :mod:`~mmseg_stunet.engine.runner` re-exports
both functions."""

import argparse
import os

from ..utils.cli import CfgOptionsAction, non_negative_int

__all__ = ['add_runner_args', 'parse_runner_args']


def add_runner_args(
    parser: argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    """The options both tools share: ``--work-dir``, ``--cfg-options``,
    ``--launcher`` and the ``--local-rank`` that launchers pass."""
    parser.add_argument(
        '--work-dir', help='the dir for logs, checkpoints and metrics'
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override settings in the config, key=value (keys must exist '
        'in the config, or be arguments of the class of the dict they are '
        'added to; see mmseg_stunet/engine/config_check.py)',
    )
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher',
    )
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument(
        '--local_rank', '--local-rank', type=non_negative_int, default=0
    )
    return parser


def parse_runner_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, and export ``LOCAL_RANK`` for mmengine if no launcher did."""
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args
