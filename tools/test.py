"""Test (evaluate) a segmentor: MMSegmentation's ``tools/test.py`` with this
plugin loaded.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
                         [--show-dir DIR] [--tta] [--amp] [--allow-partial]
                         [--cfg-options k=v ...]
                         [--launcher none|pytorch|slurm|mpi]

A checkpoint that does not fit the config's model (weights missing or of
another shape) is refused unless ``--allow-partial``. ``--out``,
``--show-dir`` and ``--work-dir`` may not be, or lie inside, the test
data (``data_root``, image and label folders), the config or the
checkpoint. ``--out`` is filled through a hidden sibling folder
``.NAME.partial`` whose files move into ``--out`` only when every
prediction has been written: a stopped or failed run leaves ``--out`` as
it was.
"""

import argparse
import os
from typing import TYPE_CHECKING

import mmseg_stunet  # noqa: F401  (registers modules, checkpoint allow-list)
from mmseg_stunet.engine.errors import ConfigError, run_tool_main
from mmseg_stunet.engine.runner_args import add_runner_args, parse_runner_args
from mmseg_stunet.utils.atomic import atomic_folder
from mmseg_stunet.utils.cli import add_model_options, non_negative_float
from mmseg_stunet.utils.notices import silence_known_notices
from mmseg_stunet.utils.paths import check_output_kinds, check_outputs

if TYPE_CHECKING:  # imported where used, after parsing (fast --help)
    from mmengine.config import Config

#: what testing cannot do without
NEEDS = ('model', 'test_dataloader', 'test_cfg', 'test_evaluator')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='directory to save the predicted label maps'
    )
    parser.add_argument('--show', action='store_true', help='show results')
    parser.add_argument(
        '--show-dir',
        help='directory to save colour-coded predictions of every test image',
    )
    parser.add_argument(
        '--wait-time',
        type=non_negative_float,
        default=2,
        help='show interval (s)',
    )
    parser.add_argument(
        '--tta', action='store_true', help='test time augmentation'
    )
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed-precision inference (fp16 on CUDA, bf16 on CPU)',
    )
    add_model_options(parser, cfg_options=False)
    return parse_runner_args(add_runner_args(parser))


def trigger_visualization_hook(
    cfg: 'Config', args: argparse.Namespace
) -> None:
    """Draw every test image (MMSegmentation's hook draws every 50th)."""
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise ConfigError(
            f'{args.config}: --show/--show-dir need '
            '`default_hooks.visualization` in the config'
        )
    hook['draw'] = True
    hook['interval'] = 1
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir


def main() -> None:
    silence_known_notices()
    args = parse_args()
    # torch, mmengine's runner and MMSegmentation after parsing (fast --help)
    from mmseg_stunet.engine.checkpoint import check_readable
    from mmseg_stunet.engine.runner import (
        build_runner,
        check_predictions,
        dataset_paths,
        enable_amp,
        load_config,
    )

    cfg = load_config(
        args.config,
        args.cfg_options,
        args.work_dir,
        args.launcher,
        needs=NEEDS,
    )
    outputs = {
        '--out': args.out,
        '--show-dir': args.show_dir,
        '--work-dir' if args.work_dir else 'work_dir': cfg.work_dir,
    }
    check_outputs(
        outputs,
        {
            'CONFIG': args.config,
            'CHECKPOINT': args.checkpoint,
            **dataset_paths(cfg),
        },
        distinct=False,
    )
    check_output_kinds(outputs)
    check_readable(args.checkpoint, 'CHECKPOINT')  # before the runner
    cfg.load_from = args.checkpoint
    if args.allow_partial:
        cfg.allow_partial_checkpoint = True
    if args.show or args.show_dir:
        trigger_visualization_hook(cfg, args)
    if args.tta:
        for key in ('tta_model', 'tta_pipeline'):
            if cfg.get(key) is None:
                raise ConfigError(
                    f'{args.config}: --tta needs `{key}` in the config'
                )
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.amp:
        enable_amp(cfg)
    if args.out is None:
        build_runner(cfg).test()
        return
    # the other ranks of a distributed run write into the same folder
    rank0 = int(os.environ.get('RANK', '0')) == 0
    with atomic_folder(args.out, rank0, '--out') as partial:
        cfg.test_evaluator['output_dir'] = partial
        cfg.test_evaluator['keep_results'] = True
        runner = build_runner(cfg)
        runner.test()
        if rank0:
            check_predictions(
                partial, len(runner.test_dataloader.dataset), args.out
            )


if __name__ == '__main__':
    run_tool_main(main)
