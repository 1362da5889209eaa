"""Peak memory of tools/predict.py on a 4000x4000 vs a 1000x1000 GeoTIFF.

    python tools/benchmarks/bench_predict_memory.py [--config CFG --checkpoint CKPT]
        [--sizes 1000 4000] [--window 512] [--overlap 128] [--batch-size 2]

Writes synthetic 3-band uint8 GeoTIFFs (strip by strip, so this script stays
small too), runs tools/predict.py on each in a fresh process and prints the
child's peak resident memory (ru_maxrss) and wall time, with and without the
colour preview, and the ratio to the smallest scene. Without --config a
narrow DeepLabV3+ (ResNet-18 at 1/4 width, random weights) is used: the model
sets the constant part of the memory, the scene size must not add to it.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

import numpy as np

from mmseg_stunet.utils.paths import project_root

ROOT = project_root()
MEASURE = ('import resource, subprocess, sys; '
           'rc = subprocess.call(sys.argv[1:]); '
           'print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); '
           'sys.exit(rc)')

DEFAULT_CFG = """
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True,
                           mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375]),
    backbone=dict(type='ResNetV1c', depth=18, stem_channels=16,
                  base_channels=16, strides=(1, 2, 2, 1),
                  dilations=(1, 1, 1, 2), norm_cfg=norm_cfg),
    decode_head=dict(type='DepthwiseSeparableASPPHead', in_channels=128,
                     in_index=3, channels=64, dilations=(1, 12, 24, 36),
                     c1_in_channels=16, c1_channels=12, num_classes=6,
                     norm_cfg=norm_cfg, align_corners=False),
    test_cfg=dict(mode='whole'))
"""


def write_scene(path, size, seed=0):
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window
    rng = np.random.RandomState(seed)
    with rasterio.open(path, 'w', driver='GTiff', height=size, width=size,
                       count=3, dtype='uint8', crs='EPSG:32632', tiled=True,
                       transform=from_origin(5e5, 5.3e6, 0.5, 0.5)) as dst:
        for row in range(0, size, 256):
            h = min(256, size - row)
            coarse = rng.randint(0, 256, (3, h // 16 + 1, size // 16 + 1))
            strip = np.kron(coarse, np.ones((16, 16)))[:, :h, :size]
            dst.write(strip.astype(np.uint8), window=Window(0, row, size, h))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config')
    parser.add_argument('--checkpoint')
    parser.add_argument('--sizes', type=int, nargs='+', default=[1000, 4000])
    parser.add_argument('--window', type=int, default=512)
    parser.add_argument('--overlap', type=int, default=128)
    parser.add_argument('--batch-size', type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        config, checkpoint = args.config, args.checkpoint
        if config is None:
            import torch
            from mmengine.config import Config
            from mmseg.apis import init_model
            config = osp.join(tmp, 'bench_cfg.py')
            with open(config, 'w') as f:
                f.write(DEFAULT_CFG)
            torch.manual_seed(0)
            model = init_model(Config.fromfile(config), None, 'cpu')
            checkpoint = osp.join(tmp, 'bench.pth')
            torch.save(dict(state_dict=model.state_dict(), meta=dict()),
                       checkpoint)
            del model
        print(f'config: {args.config or "narrow DeepLabV3+ (built-in)"}; '
              f'window {args.window}, overlap {args.overlap}, '
              f'batch {args.batch_size}')
        print(f'{"scene":>11} {"preview":>8} {"peak MiB":>9} {"ratio":>6} '
              f'{"time s":>7}')
        for preview in (True, False):
            base = None
            for size in args.sizes:
                src = osp.join(tmp, f'scene_{size}.tif')
                if not osp.exists(src):
                    write_scene(src, size)
                cmd = [sys.executable, '-c', MEASURE, sys.executable,
                       osp.join(ROOT, 'tools', 'predict.py'), config,
                       checkpoint, src, '--out-dir', osp.join(tmp, 'out'),
                       '--window', str(args.window), '--overlap',
                       str(args.overlap), '--batch-size',
                       str(args.batch_size), '--no-progress']
                if not preview:
                    cmd.append('--no-preview')
                start = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, text=True,
                                      env=dict(os.environ,
                                               PYTHONWARNINGS='ignore'))
                seconds = time.perf_counter() - start
                if proc.returncode:
                    sys.exit(proc.stdout + proc.stderr)
                peak = int(proc.stdout.strip().splitlines()[-1]) / 1024
                base = base or peak
                print(f'{size:>5}x{size:<5} {"yes" if preview else "no":>8} '
                      f'{peak:>9.0f} {peak / base:>6.2f} {seconds:>7.1f}')


if __name__ == '__main__':
    main()
