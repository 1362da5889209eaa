"""Peak memory of tools/predict.py on a 4000x4000 vs a 1000x1000 GeoTIFF.

    python tools/benchmarks/bench_predict_memory.py [--config CFG --checkpoint CKPT]
        [--sizes 1000 4000] [--window 512] [--overlap 128] [--batch-size 2]
        [--vrt] [--nproc N] [--no-preview-runs]

Writes synthetic 3-band uint8 GeoTIFFs (strip by strip, so this script stays
small too), runs tools/predict.py on each in a fresh process and prints the
child's peak resident memory (ru_maxrss) and wall time, with and without the
colour preview, and the ratio to the smallest scene. Without --config a
narrow DeepLabV3+ (ResNet-18 at 1/4 width, random weights) is used: the model
sets the constant part of the memory, the scene size must not add to it.

``--vrt full`` makes each scene a VRT mosaic of one 1000x1000 GeoTIFF
repeated (a 30000x30000 scene without a 2.7 GB file: the read path is
GDAL's, as for any mosaic); ``--vrt sparse`` places the tile at three
places only and declares the rest nodata: every window is still read,
masked and written, but only windows with data go through the model, so a
30000x30000 scene takes minutes on 2 cores (the figure is about the I/O
path and the writer, which are what could grow with the scene).
``--nproc N`` runs tools/dist_predict.sh with N processes (gloo) instead; the peak is then that of the largest process (ru_maxrss of
the children is the maximum over them, not the sum).
"""

import argparse
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

from mmseg_stunet.utils.paths import project_root

ROOT = project_root()
MEASURE = (
    'import resource, subprocess, sys; '
    'rc = subprocess.call(sys.argv[1:]); '
    'print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); '
    'sys.exit(rc)'
)

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
                     norm_cfg=norm_cfg, align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss',
                                      avg_non_ignore=True)),
    test_cfg=dict(mode='whole'))
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def write_vrt(
    path: str, size: int, tile: int = 1000, sparse: bool = False
) -> None:
    """A ``size x size`` VRT mosaic of one ``tile`` px GeoTIFF repeated;
    ``sparse``: only at the top-left, centre and bottom-right, the rest
    nodata (0), whose windows are read, masked and written as nodata
    without a model pass (the I/O path of the whole scene, a few Mpx of
    model work)."""
    import rasterio

    from mmseg_stunet.testing import write_random_geotiff

    src = osp.join(osp.dirname(path), f'tile_{tile}.tif')
    if not osp.exists(src):
        write_random_geotiff(src, tile, tile)
    with rasterio.open(src) as ds:
        srs, gt = ds.crs.to_wkt(), ds.transform.to_gdal()
    bands = []
    for b in (1, 2, 3):
        sources = []
        last = (size - 1) // tile * tile
        places = [
            (r, c) for r in range(0, size, tile) for c in range(0, size, tile)
        ]
        if sparse:
            mid = size // 2 // tile * tile
            places = sorted({(0, 0), (mid, mid), (last, last)})
        for row, col in places:
            w, h = min(tile, size - col), min(tile, size - row)
            sources.append(
                f'<SimpleSource><SourceFilename relativeToVRT="1">'
                f'{osp.basename(src)}</SourceFilename><SourceBand>{b}'
                f'</SourceBand><SrcRect xOff="0" yOff="0" xSize="{w}" '
                f'ySize="{h}"/><DstRect xOff="{col}" yOff="{row}" '
                f'xSize="{w}" ySize="{h}"/></SimpleSource>'
            )
        nodata = '<NoDataValue>0</NoDataValue>' if sparse else ''
        bands.append(
            f'<VRTRasterBand dataType="Byte" band="{b}">{nodata}'
            + ''.join(sources)
            + '</VRTRasterBand>'
        )
    with open(path, 'w') as f:
        f.write(
            f'<VRTDataset rasterXSize="{size}" rasterYSize="{size}">'
            f'<SRS>{srs}</SRS><GeoTransform>'
            f'{", ".join(str(v) for v in gt)}</GeoTransform>'
            + ''.join(bands)
            + '</VRTDataset>'
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config')
    parser.add_argument('--checkpoint')
    parser.add_argument('--sizes', type=int, nargs='+', default=[1000, 4000])
    parser.add_argument('--window', type=int, default=512)
    parser.add_argument('--overlap', type=int, default=128)
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument(
        '--vrt',
        choices=['full', 'sparse'],
        help='scenes as VRT mosaics of one 1000 px tile: '
        'everywhere, or at 3 places with nodata between',
    )
    parser.add_argument(
        '--nproc', type=int, help='run tools/dist_predict.sh with N processes'
    )
    parser.add_argument(
        '--no-preview-runs',
        action='store_true',
        help='only the runs without the preview',
    )
    args = parser.parse_args()
    from mmseg_stunet.utils.notices import silence_known_notices

    silence_known_notices()  # third-party notices, not figures

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
            torch.save(
                dict(state_dict=model.state_dict(), meta=dict()), checkpoint
            )
            del model
        print(
            f'config: {args.config or "narrow DeepLabV3+ (built-in)"}; '
            f'{args.nproc or 1} process(es); '
            f'{args.vrt + " VRT" if args.vrt else "GeoTIFF"} scenes; '
            f'window {args.window}, overlap {args.overlap}, '
            f'batch {args.batch_size}'
        )
        print(
            f'{"scene":>11} {"preview":>8} {"peak MiB":>9} {"ratio":>6} '
            f'{"time s":>7}'
        )
        for preview in (False,) if args.no_preview_runs else (True, False):
            base = None
            for size in args.sizes:
                src = osp.join(
                    tmp, f'scene_{size}.' + ('vrt' if args.vrt else 'tif')
                )
                if not osp.exists(src):
                    if args.vrt:
                        write_vrt(src, size, sparse=args.vrt == 'sparse')
                    else:
                        from mmseg_stunet.testing import write_random_geotiff

                        write_random_geotiff(src, size, size)
                tool = [sys.executable, osp.join(ROOT, 'tools', 'predict.py')]
                if args.nproc:
                    tool = ['bash', osp.join(ROOT, 'tools', 'dist_predict.sh')]
                cmd = [
                    sys.executable,
                    '-c',
                    MEASURE,
                    *tool,
                    config,
                    checkpoint,
                    *([str(args.nproc)] if args.nproc else []),
                    src,
                    '--out-dir',
                    osp.join(tmp, 'out'),
                    '--window',
                    str(args.window),
                    '--overlap',
                    str(args.overlap),
                    '--batch-size',
                    str(args.batch_size),
                    '--no-progress',
                ]
                if not preview:
                    cmd.append('--no-preview')
                start = time.perf_counter()
                proc = subprocess.run(
                    cmd,
                    capture_output=True,
                    text=True,
                    env=dict(
                        os.environ,
                        PYTHON=sys.executable,
                        PORT=str(free_port()),
                        PYTHONWARNINGS='ignore',
                    ),
                )
                seconds = time.perf_counter() - start
                if proc.returncode:
                    sys.exit(proc.stdout + proc.stderr)
                peak = int(proc.stdout.strip().splitlines()[-1]) / 1024
                base = base or peak
                print(
                    f'{size:>5}x{size:<5} {"yes" if preview else "no":>8} '
                    f'{peak:>9.0f} {peak / base:>6.2f} {seconds:>7.1f}'
                )


if __name__ == '__main__':
    main()
