"""Train a segmentor: MMSegmentation's ``tools/train.py`` with this plugin.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                          [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

``--resume`` alone continues from ``WORK_DIR/last_checkpoint`` (an error if
there is none, as for ``mim train --resume``); ``--resume CKPT`` continues
from that checkpoint (iteration counter, optimizer, LR schedule); resuming a
run that is already at its end is an error. ``resume = True`` in a config
means "resume if there is something to resume": with no checkpoint in the
work dir it prints a warning saying so and starts from scratch. ``--amp``:
mixed precision, fp16 with loss scaling on CUDA, bf16 on CPU.

Training stops at the first NaN or inf loss with one line (iteration, loss
terms); checkpoints saved before it are kept, none after it is written.

A copied or moved work dir resumes from its own checkpoints: the absolute
paths mmengine stores (``last_checkpoint``, the best checkpoint of
``save_best``) are taken from the work dir when a file of their name is
there, and a run never deletes or overwrites a file outside its work dir.
"""

import argparse
import sys

import mmseg_stunet  # noqa: F401  (registers modules, checkpoint allow-list)
from mmseg_stunet.engine.errors import run_tool_main
from mmseg_stunet.engine.runner_args import add_runner_args, parse_runner_args
from mmseg_stunet.utils.notices import silence_known_notices
from mmseg_stunet.utils.paths import check_output_kinds

#: what training cannot do without
NEEDS = ('model', 'train_dataloader', 'train_cfg', 'optim_wrapper')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        default=None,
        help='resume from the latest checkpoint in the work dir, or from '
        'the given checkpoint',
    )
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (fp16 on CUDA, bf16 on CPU)',
    )
    return parse_runner_args(add_runner_args(parser))


def main() -> None:
    silence_known_notices()
    args = parse_args()
    # torch, mmengine's runner and MMSegmentation after parsing (fast --help)
    from mmseg_stunet.engine.checkpoint import (
        check_readable,
        latest_checkpoint,
    )
    from mmseg_stunet.engine.runner import (
        build_runner,
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
    check_output_kinds(
        {'--work-dir' if args.work_dir else 'work_dir': cfg.work_dir}
    )
    if args.amp:
        enable_amp(cfg)
    if args.resume == 'auto':
        latest = latest_checkpoint(cfg.work_dir)
        if latest is None:
            raise FileNotFoundError(
                f'--resume: no checkpoint to resume from in {cfg.work_dir}'
                ' (no last_checkpoint); train without --resume, or pass '
                '--resume CKPT'
            )
        # named explicitly: mmengine would resume from a config's
        # load_from (initial weights) instead of the latest checkpoint
        cfg.resume = True
        cfg.load_from = latest
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    elif (
        cfg.get('resume')
        and cfg.get('load_from') is None
        and latest_checkpoint(cfg.work_dir) is None
    ):
        print(
            f'warning: resume = True in the config, but no checkpoint '
            f'in {cfg.work_dir}: starting from scratch',
            file=sys.stderr,
            flush=True,
        )
        cfg.resume = False
    if cfg.get('resume') and cfg.get('load_from'):
        # before anything is built or written in the work dir
        check_readable(cfg.load_from, '--resume')
    build_runner(cfg).train()


if __name__ == '__main__':
    run_tool_main(main)
