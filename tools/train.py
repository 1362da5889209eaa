"""Train a segmentor: MMSegmentation's ``tools/train.py`` with this plugin loaded.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                          [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

``--resume`` alone continues from ``WORK_DIR/last_checkpoint``; ``--resume CKPT``
continues from that checkpoint (iteration counter, optimizer, LR schedule).
"""
import argparse

import mmseg_stunet  # noqa: F401  (registers modules, checkpoint allow-list)
from mmseg_stunet.engine.runner import (add_runner_args, build_runner,
                                        load_config, parse_runner_args)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        default=None,
        help='resume from the latest checkpoint in the work dir, or from '
        'the given checkpoint')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision')
    return parse_runner_args(add_runner_args(parser))


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, args.work_dir,
                      args.launcher)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    build_runner(cfg).train()


if __name__ == '__main__':
    main()
