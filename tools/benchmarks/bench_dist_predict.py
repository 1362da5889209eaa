"""Scene-prediction throughput, one process vs several (torchrun, gloo).

    python tools/benchmarks/bench_dist_predict.py [--configs A.py B.py]
        [--windows 256 512] [--procs 1 2] [--scenes 3] [--size 640]
        [--rounds 1] [--threads 2]

For each config (default: the paper ST-UNet and DeepLabV3+ R-50, random
weights) and window (overlap a quarter of it), writes ``--scenes``
synthetic 3-band GeoTIFFs of ``--size`` px square plus one of twice the
height (cut into row bands over the processes), and runs
``tools/dist_predict.sh CFG CKPT N`` on them for each N of ``--procs``.
Prints the Mpx/s of the run's own final line (plan to last scene, model
building excluded), best of ``--rounds``, and the speed-up over the first
N. ``--threads`` CPU cores are split evenly among the processes
(``OMP_NUM_THREADS = threads / N``, at least 1), so 1 process x 2 threads is
compared with 2 processes x 1 thread on a 2-core machine.
"""

import argparse
import os
import os.path as osp
import re
import socket
import subprocess
import sys
import tempfile
from typing import Tuple

from mmseg_stunet.utils.notices import silence_known_notices
from mmseg_stunet.utils.paths import config_path, project_root

ROOT = project_root()
CONFIGS = [
    'st_unet/st-unet_1xb8-100e_vaihingen-256x256.py',
    'deeplabv3plus/deeplabv3plus_r50-d8_1xb8-100e_vaihingen-256x256.py',
]
RATE = re.compile(r'predict: .* ([\d.]+) Mpx/s, ([\d.]+) s on (\d+) process')


def random_checkpoint(config: str, path: str) -> None:
    import torch
    from mmengine.config import Config
    from mmseg.apis import init_model

    torch.manual_seed(0)
    model = init_model(Config.fromfile(config), None, 'cpu')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)


def mpx_of(folder: str) -> float:
    import rasterio

    total = 0
    for name in os.listdir(folder):
        with rasterio.open(osp.join(folder, name)) as src:
            total += src.width * src.height
    return total / 1e6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run(
    config: str,
    checkpoint: str,
    scenes: str,
    out: str,
    nproc: int,
    window: int,
    threads: int,
) -> Tuple[float, float]:
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        PORT=str(free_port()),
        OMP_NUM_THREADS=str(max(1, threads // nproc)),
        PYTHONWARNINGS='ignore',
    )
    proc = subprocess.run(
        [
            'bash',
            osp.join(ROOT, 'tools', 'dist_predict.sh'),
            config,
            checkpoint,
            str(nproc),
            scenes,
            '--out-dir',
            out,
            '--window',
            str(window),
            '--overlap',
            str(window // 4),
            '--batch-size',
            '2',
            '--no-preview',
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    found = RATE.search(proc.stderr)
    if proc.returncode or not found:
        sys.exit(proc.stderr[-3000:])
    seconds = float(found.group(2))
    # the line's own Mpx/s has 2 decimals: too coarse under load
    return mpx_of(scenes) / seconds, seconds


def main() -> None:
    silence_known_notices()
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--configs', nargs='+', default=[config_path(c) for c in CONFIGS]
    )
    parser.add_argument('--windows', type=int, nargs='+', default=[256, 512])
    parser.add_argument('--procs', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--scenes', type=int, default=3)
    parser.add_argument('--size', type=int, default=640)
    parser.add_argument('--rounds', type=int, default=1)
    parser.add_argument('--threads', type=int, default=os.cpu_count())
    args = parser.parse_args()
    from mmseg_stunet.testing import write_random_geotiff

    with tempfile.TemporaryDirectory() as tmp:
        scenes = osp.join(tmp, 'scenes')
        os.makedirs(scenes)
        for i in range(args.scenes):
            write_random_geotiff(
                osp.join(scenes, f's{i}.tif'), args.size, args.size, i
            )
        write_random_geotiff(
            osp.join(scenes, 'tall.tif'), 2 * args.size, args.size, 99
        )
        mpx = (args.scenes + 2) * args.size**2 / 1e6
        print(
            f'{args.scenes + 1} scenes, {mpx:.2f} Mpx; {args.threads} '
            f'threads split among the processes; best of {args.rounds}'
        )
        print(
            f'{"config":<28} {"window":>6} {"procs":>5} {"Mpx/s":>7} '
            f'{"s":>7} {"speed-up":>8} {"spread":>7}'
        )
        for config in args.configs:
            name = osp.basename(config).split('_1xb8')[0]
            ckpt = osp.join(tmp, name + '.pth')
            random_checkpoint(config, ckpt)
            for window in args.windows:
                base = None
                for nproc in args.procs:
                    rates = [
                        run(
                            config,
                            ckpt,
                            scenes,
                            osp.join(tmp, f'out{r}'),
                            nproc,
                            window,
                            args.threads,
                        )
                        for r in range(args.rounds)
                    ]
                    best = max(rates)
                    base = base or best[0]
                    spread = (
                        max(r[0] for r in rates) / min(r[0] for r in rates) - 1
                    )
                    print(
                        f'{name:<28} {window:>6} {nproc:>5} '
                        f'{best[0]:>7.3f} {best[1]:>7.1f} '
                        f'{best[0] / base:>8.2f} {spread:>7.0%}',
                        flush=True,
                    )


if __name__ == '__main__':
    main()
