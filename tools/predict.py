"""Predict class maps for whole scenes (GeoTIFF, PNG, JPEG) with a trained model.

    python tools/predict.py CONFIG CHECKPOINT INPUT [INPUT ...] --out-dir DIR \
        [--window H [W]] [--overlap N [M]] [--nodata V] [--batch-size 4]
        [--flip horizontal vertical] [--allow-dtype] [--cog] [--probabilities]
        [--manifest FILE] [--keep-going] [--launcher pytorch]
    python tools/predict.py --backend onnxruntime --onnx MODEL.onnx \
        INPUT [INPUT ...] --out-dir DIR [same options]

Each INPUT is an image (GeoTIFF, VRT mosaic, PNG, JPEG), a folder of
images, a glob pattern (quoted: 'tiles/**/*.tif') or @LIST, a text file of
inputs, one a line. GeoTIFF in gives a uint8
GeoTIFF of class indices out (same CRS, transform and size, ISPRS colour
table); PNG/JPEG in gives a PNG. ``<name>_preview.png`` overlays the classes
on the image. Memory is bounded by batch size x window, not by the scene.
Windows default to what the config evaluates with (its ``slide`` test crop
and stride, or its training crop). Nodata pixels (the file's nodata value,
mask or alpha band, or --nodata) are not classified and come out as 255.

With ``--backend onnxruntime --onnx MODEL.onnx`` (a file from
tools/export_onnx.py; no CONFIG and CHECKPOINT) the windows run in ONNX
Runtime with the same tiling, overlap, flips and nodata handling; the band
order, normalisation, classes, palette and default window come from the
file's ONNX metadata. ``--cog`` writes Cloud-Optimised GeoTIFFs (tiled,
deflate, internal overviews); ``--probabilities`` also writes
``<name>_probabilities.tif``, one uint8 band per class (softmax x 255).

Many scenes, many processes: ``--manifest FILE`` records each scene as it
finishes (JSON lines) and skips, on a re-run, the scenes it records as
done with the same settings; ``--keep-going`` reports a bad scene and goes
on (exit 1 at the end with a summary); ``--launcher pytorch`` (used by
tools/dist_predict.sh) shares the scenes, and row bands of large ones,
among torchrun's processes, with the same class maps as one process
(mmseg_stunet/apis/batch_predict.py).
"""

import argparse
import sys
import time
from typing import Any, Dict, List

from mmseg_stunet.engine.errors import run_tool_main
from mmseg_stunet.utils.cli import (
    BACKENDS,
    add_model_options,
    check_nargs,
    device,
    float_range,
    non_negative_int,
    positive_int,
)
from mmseg_stunet.utils.notices import silence_known_notices
from mmseg_stunet.utils.paths import check_output_kinds


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    onnx = onnx_mode()
    if not onnx:  # the ONNX file holds the model: no config, no checkpoint
        parser.add_argument('config', help='model config file')
        parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('inputs', nargs='+', help='images and/or folders')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument(
        '--window',
        type=positive_int,
        nargs='+',
        help='window size: one value or height width '
        "(default: the config's test crop or training crop)",
    )
    parser.add_argument(
        '--overlap',
        type=non_negative_int,
        nargs='+',
        help='minimum window overlap: one value or two '
        "(default: the config's test crop minus its stride, "
        '0 with --window)',
    )
    parser.add_argument(
        '--nodata',
        type=float,
        help='pixel value that marks nodata when all bands '
        "have it (the file's own nodata value, mask or alpha "
        'band are always used)',
    )
    parser.add_argument('--batch-size', type=positive_int, default=4)
    parser.add_argument(
        '--flip',
        nargs='*',
        default=[],
        choices=['horizontal', 'vertical'],
        help='test-time flips averaged with the original',
    )
    parser.add_argument(
        '--bands',
        type=positive_int,
        nargs='+',
        help='1-based input bands to use, in this order',
    )
    parser.add_argument(
        '--device',
        type=device,
        default='cpu',
        help='cpu, cuda or cuda:N (checked to exist)',
    )
    parser.add_argument(
        '--palette',
        choices=['isprs', 'model'],
        default='isprs',
        help="colours: ISPRS, or the model's dataset_meta",
    )
    parser.add_argument('--no-preview', action='store_true')
    parser.add_argument(
        '--preview-size',
        type=positive_int,
        default=2048,
        help='longest side of the preview in pixels',
    )
    parser.add_argument('--opacity', type=float_range(0, 1), default=0.5)
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument(
        '--allow-dtype',
        action='store_true',
        help='predict scenes that are not uint8 with a model '
        'normalised for 8-bit input, with a warning per '
        'scene (default: refuse them)',
    )
    add_model_options(parser)
    # --- back-end and output formats (issue 21) ---
    group = parser.add_argument_group('back-end and outputs')
    group.add_argument(
        '--backend',
        choices=BACKENDS,
        default='pytorch',
        help='pytorch (CONFIG CHECKPOINT) or onnxruntime '
        '(--onnx MODEL.onnx instead of CONFIG CHECKPOINT)',
    )
    group.add_argument(
        '--onnx',
        metavar='MODEL.onnx',
        help='ONNX file from tools/export_onnx.py, with --backend onnxruntime',
    )
    group.add_argument(
        '--threads',
        type=positive_int,
        help='onnxruntime intra-op threads (default: one per core)',
    )
    group.add_argument(
        '--graph-optimization',
        default='all',
        choices=['disable', 'basic', 'extended', 'all'],
        help='onnxruntime graph optimisation level',
    )
    group.add_argument(
        '--cog',
        action='store_true',
        help='write Cloud-Optimised GeoTIFFs (tiled, '
        'deflate, internal overviews); PNG/JPEG inputs still '
        'give PNGs',
    )
    group.add_argument(
        '--probabilities',
        action='store_true',
        help='also write <name>_probabilities.tif: one uint8 '
        'band per class, softmax x 255 (mean over --flip)',
    )
    # -- many scenes, many processes (mmseg_stunet/apis/batch_predict.py) --
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch'],
        default='none',
        help="pytorch: one of torchrun's processes "
        '(tools/dist_predict.sh); gloo on CPU, nccl on GPU',
    )
    parser.add_argument(
        '--manifest',
        help='JSON-lines record of the scenes (scene, '
        'status, seconds, pixels, error); scenes it records '
        'as done with the same settings are skipped',
    )
    parser.add_argument(
        '--keep-going',
        action='store_true',
        help='report a bad scene, predict the others, exit 1 '
        'at the end (default: stop at the first)',
    )
    parser.add_argument(
        '--band-mpx',
        type=float_range(0.001),
        help='split scenes larger than this many Mpx into '
        'row bands over the processes (default: half a '
        "process's share, at least 1)",
    )
    parser.add_argument(
        '--rank-timeout',
        type=float_range(1),
        default=300,
        help='seconds without a sign of life from a process '
        'before the run stops (default 300)',
    )
    args = parser.parse_args()
    if onnx:
        if args.backend != 'onnxruntime':
            parser.error('argument --onnx: needs --backend onnxruntime')
        if args.onnx is None:
            parser.error(
                'argument --backend onnxruntime: needs --onnx MODEL.onnx'
            )
        for flag in ('cfg_options', 'allow_partial'):
            if getattr(args, flag):
                parser.error(
                    f'argument --{flag.replace("_", "-")}: not '
                    'with --backend onnxruntime (the ONNX file is '
                    'the model)'
                )
    elif args.threads is not None or args.graph_optimization != 'all':
        parser.error(
            'arguments --threads, --graph-optimization: only with '
            '--backend onnxruntime'
        )
    # --- end of back-end and output formats ---
    check_nargs(
        parser,
        '--window',
        args.window,
        (1, 2),
        'one value or two (height width)',
    )
    check_nargs(parser, '--overlap', args.overlap, (1, 2), 'one value or two')
    return args


def main() -> None:
    silence_known_notices()
    args = parse_args()
    check_output_kinds({'--out-dir': args.out_dir})
    if args.launcher != 'none' or args.manifest or args.keep_going:
        return batch_main(args)
    predictor = make_predictor(args, progress=not args.no_progress)
    start = time.perf_counter()
    outputs = predictor.predict(args.inputs, args.out_dir)
    seconds = time.perf_counter() - start
    for out in outputs:
        print(' '.join(out.values()))
    print(throughput(outputs, seconds), file=sys.stderr)


def make_predictor(args: argparse.Namespace, progress: bool) -> Any:
    """The :class:`ScenePredictor` the options ask for: PyTorch (CONFIG
    CHECKPOINT) or ONNX Runtime (--onnx); torch etc. load only here, after
    --help."""
    from mmseg_stunet.apis import ScenePredictor

    options = dict(
        window=args.window,
        overlap=args.overlap,
        batch_size=args.batch_size,
        flip=args.flip,
        bands=args.bands,
        palette=args.palette,
        preview=not args.no_preview,
        preview_size=args.preview_size,
        opacity=args.opacity,
        progress=progress,
        nodata=args.nodata,
        allow_dtype=args.allow_dtype,
        cog=args.cog,
        probabilities=args.probabilities,
    )
    if args.backend == 'onnxruntime':
        return ScenePredictor.from_onnx(
            args.onnx,
            args.device,
            args.threads,
            args.graph_optimization,
            **options,
        )
    return ScenePredictor.from_config(
        args.config,
        args.checkpoint,
        args.device,
        args.cfg_options,
        allow_partial=args.allow_partial,
        **options,
    )


def onnx_mode() -> bool:
    """Whether the command line asks for the ONNX Runtime back-end (then
    every positional argument is an input)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument('--backend', choices=BACKENDS)
    pre.add_argument('--onnx')
    known, _ = pre.parse_known_args()
    return known.backend == 'onnxruntime' or known.onnx is not None


def batch_main(args: argparse.Namespace) -> None:
    """Scenes shared among torchrun's processes (or one), with manifest,
    resume and --keep-going: :class:`BatchPredictor`."""
    import os

    distributed = args.launcher == 'pytorch'
    if distributed:
        import torch
        import torch.distributed as dist

        cuda = args.device.startswith('cuda')
        if cuda:  # one GPU per process (shared if there are fewer)
            local = int(os.environ.get('LOCAL_RANK', 0))
            args.device = f'cuda:{local % torch.cuda.device_count()}'
            torch.cuda.set_device(args.device)
        dist.init_process_group('nccl' if cuda else 'gloo')
    settings = {
        k: v
        for k, v in vars(args).items()
        if k
        not in (
            'inputs',
            'out_dir',
            'device',
            'no_progress',
            'launcher',
            'manifest',
            'keep_going',
            'band_mpx',
            'rank_timeout',
        )
    }
    from mmseg_stunet.apis.batch_predict import (
        BatchPredictor,
        RunAborted,
        settings_fingerprint,
    )

    models = (
        [args.onnx]
        if args.backend == 'onnxruntime'
        else [args.config, args.checkpoint]
    )
    fingerprint = settings_fingerprint(settings, models)
    band_pixels = round(args.band_mpx * 1e6) if args.band_mpx else None
    if args.cog or args.probabilities:
        # row bands are merged into the class map and preview only: scenes
        # written as COGs or with probabilities go whole to one process
        if args.band_mpx:
            raise ValueError(
                '--band-mpx cannot be used with --cog or '
                '--probabilities (those scenes are predicted '
                'whole by one process)'
            )
        band_pixels = sys.maxsize
    predictor = make_predictor(args, progress=False)
    runner = BatchPredictor(
        predictor,
        args.out_dir,
        fingerprint,
        manifest=args.manifest,
        keep_going=args.keep_going,
        band_pixels=band_pixels,
        rank_timeout=args.rank_timeout,
        progress=not args.no_progress,
        errors=(OSError, ValueError, FloatingPointError, FileNotFoundError),
    )
    try:
        records = runner.run(args.inputs)
    except RunAborted as err:  # another rank failed: one line here too
        print(f'error: {err}', file=sys.stderr, flush=True)
        sys.exit(1)
    if runner.rank != 0:
        return
    for record in records:
        if record['status'] == 'done':
            print(' '.join(record['outputs']))
    failed = [r for r in records if r['status'] == 'failed']
    for record in failed:
        print(f'failed: {record["scene"]}: {record["error"]}', file=sys.stderr)
    if failed:
        skipped = sum(r['status'] == 'skipped' for r in records)
        done = sum(r['status'] == 'done' for r in records)
        where = f' (manifest {args.manifest})' if args.manifest else ''
        print(
            f'error: {len(failed)} of {len(records)} scene(s) failed, '
            f'{done} done, {skipped} skipped as complete{where}',
            file=sys.stderr,
            flush=True,
        )
        sys.exit(1)


def throughput(outputs: List[Dict[str, str]], seconds: float) -> str:
    """``predicted N scene(s), P Mpx in S s (R Mpx/s)`` for the class maps
    written (model building excluded), on stderr beside the paths."""
    import rasterio

    pixels = 0
    for out in outputs:
        with rasterio.open(out['classes']) as src:
            pixels += src.width * src.height
    mpx = pixels / 1e6
    return (
        f'predicted {len(outputs)} scene(s), {mpx:.2f} Mpx in '
        f'{seconds:.2f} s ({mpx / max(seconds, 1e-9):.2f} Mpx/s)'
    )


if __name__ == '__main__':
    # bad input (ValueError, FloatingPointError of the predictor): one line
    run_tool_main(main, (ValueError, FloatingPointError))
