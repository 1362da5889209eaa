"""Whole-predictor throughput, PyTorch vs ONNX Runtime, on CPU.

    python tools/benchmarks/bench_predict_backends.py [--configs A.py B.py]
        [--windows 256 512] [--scene 1024] [--rounds 3] [--batch-size 4]
        [--threads N] [--sweep]

For each config (default: the paper ST-UNet and DeepLabV3+ R-50-D8, random
weights -- an untrained model stays bounded in eval mode), the model is
exported to ONNX with dynamic sizes (tools/export_onnx.py's export), and a
synthetic --scene x --scene 3-band uint8 GeoTIFF is predicted by
:class:`ScenePredictor` with each back-end (no overlap, no flips, no
preview: reading, tiling, the model, argmax and the windowed GeoTIFF writes
all count) at each window. One warm-up run, then --rounds timed runs;
prints the best Mpx/s, the spread ((worst - best) / best of the times),
the ONNX Runtime / PyTorch ratio and the share of pixels whose class differs
between the two back-ends' class maps. --sweep also times the ONNX Runtime
predictor of the first config at the first window with other session
settings (intra-op threads, graph optimisation level, batch size).
"""

import argparse
import os
import os.path as osp
import tempfile
import time
import warnings
from typing import Callable, List, Tuple

from mmseg_stunet.utils.notices import silence_known_notices
from mmseg_stunet.utils.paths import config_path

CONFIGS = [
    'st_unet/st-unet_1xb8-100e_vaihingen-256x256.py',
    'deeplabv3plus/deeplabv3plus_r50-d8_1xb8-100e_vaihingen-256x256.py',
]


def timed(fn: Callable[[], object], rounds: int) -> List[float]:
    fn()  # warm-up (allocations, onnxruntime's first-run planning)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def summary(times: List[float], pixels: int) -> Tuple[float, float]:
    """(best Mpx/s, spread (worst - best) / best)."""
    best = min(times)
    return pixels / 1e6 / best, (max(times) - best) / best


def write_scene(path: str, side: int) -> str:
    from mmseg_stunet.testing import smooth_scene, write_geotiff

    return write_geotiff(path, smooth_scene(side, side, 3, seed=1))


def main() -> None:
    silence_known_notices()
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--configs', nargs='+', default=[config_path(c) for c in CONFIGS]
    )
    parser.add_argument('--windows', type=int, nargs='+', default=[256, 512])
    parser.add_argument('--scene', type=int, default=1024)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument(
        '--threads',
        type=int,
        help='onnxruntime intra-op threads (default: its '
        'own, one per physical core)',
    )
    parser.add_argument('--sweep', action='store_true')
    args = parser.parse_args()
    # torch, mmseg, rasterio and onnxruntime after --help
    import rasterio
    import torch
    from mmengine.config import Config
    from mmseg.apis import init_model

    from mmseg_stunet.apis import ScenePredictor
    from mmseg_stunet.apis.backends import OnnxBackend
    from mmseg_stunet.apis.onnx_export import export_onnx

    print(
        f'scene {args.scene}x{args.scene}, batch {args.batch_size}, no '
        f'overlap/flips/preview; torch {torch.__version__} with '
        f'{torch.get_num_threads()} threads; best of {args.rounds} after a '
        'warm-up; spread = (worst - best) / best'
    )
    print(
        f'{"config":<22} {"window":>6} {"torch Mpx/s":>12} {"spread":>7} '
        f'{"ORT Mpx/s":>10} {"spread":>7} {"ORT/torch":>9} '
        f'{"differ":>9}'
    )
    with tempfile.TemporaryDirectory() as tmp:
        src = write_scene(osp.join(tmp, 'scene.tif'), args.scene)
        os.makedirs(osp.join(tmp, 'out'))
        pixels = args.scene**2
        for n, config in enumerate(args.configs):
            torch.manual_seed(0)
            model = init_model(Config.fromfile(config), None, 'cpu').eval()
            onnx_path = osp.join(tmp, f'model{n}.onnx')
            with warnings.catch_warnings():  # the exporter's notes
                warnings.simplefilter('ignore')
                export_onnx(model, onnx_path, 3, (256, 256))
            ort = OnnxBackend(onnx_path, threads=args.threads)
            name = osp.basename(config).split('_1xb8')[0]
            for window in args.windows:
                kw = dict(
                    window=window,
                    overlap=0,
                    batch_size=args.batch_size,
                    preview=False,
                    progress=False,
                )
                rows, maps = [], []
                for backend in (model, ort):
                    predictor = ScenePredictor(backend, **kw)
                    times = timed(
                        lambda: predictor.predict_scene(
                            src, osp.join(tmp, 'out')
                        ),
                        args.rounds,
                    )
                    rows.append(summary(times, pixels))
                    with rasterio.open(
                        osp.join(tmp, 'out', 'scene.tif')
                    ) as out:
                        maps.append(out.read(1))
                (t, ts), (o, os_) = rows
                differ = float((maps[0] != maps[1]).mean())
                print(
                    f'{name:<22} {window:>6} {t:>12.3f} {ts:>7.0%} '
                    f'{o:>10.3f} {os_:>7.0%} {o / t:>8.2f}x '
                    f'{differ:>9.1e}',
                    flush=True,
                )
            if args.sweep and n == 0:
                sweep(onnx_path, src, pixels, args)
            del model, ort


def sweep(
    onnx_path: str, src: str, pixels: int, args: argparse.Namespace
) -> None:
    """ONNX Runtime predictor at the first window with other settings."""
    from mmseg_stunet.apis import ScenePredictor
    from mmseg_stunet.apis.backends import OnnxBackend

    window = args.windows[0]
    print(
        f'  sweep (window {window}): threads, optimisation, batch -> '
        'Mpx/s (spread)'
    )
    for threads, level, batch in [
        (1, 'all', args.batch_size),
        (2, 'all', args.batch_size),
        (None, 'basic', args.batch_size),
        (None, 'extended', args.batch_size),
        (None, 'all', 1),
        (None, 'all', 8),
    ]:
        backend = OnnxBackend(onnx_path, threads=threads, optimization=level)
        predictor = ScenePredictor(
            backend,
            window=window,
            overlap=0,
            batch_size=batch,
            preview=False,
            progress=False,
        )
        out = osp.join(osp.dirname(src), 'out')
        best, spread = summary(
            timed(lambda: predictor.predict_scene(src, out), args.rounds),
            pixels,
        )
        print(
            f'  threads={threads or "default"} opt={level} batch={batch}: '
            f'{best:.3f} ({spread:.0%})',
            flush=True,
        )


if __name__ == '__main__':
    main()
