"""Test (evaluate) a segmentor: MMSegmentation's ``tools/test.py`` with this
plugin loaded.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
                         [--show-dir DIR] [--tta] [--cfg-options k=v ...]
                         [--launcher none|pytorch|slurm|mpi]
"""
import argparse
import os.path as osp

import mmseg_stunet  # noqa: F401  (registers modules, checkpoint allow-list)
from mmseg_stunet.engine.runner import (add_runner_args, build_runner,
                                        load_config, parse_runner_args)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='directory to save the predicted label maps')
    parser.add_argument('--show', action='store_true', help='show results')
    parser.add_argument(
        '--show-dir', help='directory to save colour-coded predictions')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='show interval (s)')
    parser.add_argument(
        '--tta', action='store_true', help='test time augmentation')
    return parse_runner_args(add_runner_args(parser))


def trigger_visualization_hook(cfg, args):
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise KeyError(f'{args.config}: --show/--show-dir need '
                       '`default_hooks.visualization` in the config')
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir
    return cfg


def main():
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = load_config(args.config, args.cfg_options, args.work_dir,
                      args.launcher)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    build_runner(cfg).test()


if __name__ == '__main__':
    main()
