"""Export a segmentor to ONNX and check it against PyTorch with onnxruntime.

    python tools/export_onnx.py CONFIG [CHECKPOINT] --out model.onnx \
        [--shape 512 512] [--check-sizes 512 512 384 640] [--static]

The graph takes raw (N, C, H, W) float32 pixels in the channel order
``tools/predict.py`` reads them (BGR for an RGB image, as mmcv.imread) and
returns (N, num_classes, H, W) logits; normalisation is part of the graph.
Batch, height and width are dynamic unless --static fixes the input to
1 x C x --shape; the project's models (ST-UNet, DCN, DeepLabV3+) export with
dynamic sizes. After export, random images of each --check-sizes pair (only
--shape with --static) run through onnxruntime and PyTorch; the maximum
absolute logit difference and the median CPU time of both are printed, and
the file is written only if every difference is finite and within --atol
(exit status 1 otherwise). The file's ONNX metadata holds the band order,
mean/std, bgr_to_rgb, classes, palette, window/stride and the project
version (see docs/inference.md); the band order is printed.
"""

import argparse
import os.path as osp
import sys

from mmseg_stunet.engine.errors import run_tool_main
from mmseg_stunet.utils.atomic import atomic_write
from mmseg_stunet.utils.cli import (
    add_model_options,
    int_range,
    non_negative_float,
    positive_int,
)
from mmseg_stunet.utils.notices import silence_known_notices
from mmseg_stunet.utils.paths import check_output_kinds, check_outputs


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='model config file')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='checkpoint file (random weights if omitted)',
    )
    parser.add_argument('--out', required=True, help='ONNX file to write')
    parser.add_argument(
        '--shape',
        type=positive_int,
        nargs=2,
        default=[512, 512],
        help='height width of the tracing input',
    )
    parser.add_argument(
        '--check-sizes',
        type=positive_int,
        nargs='*',
        default=[512, 512, 384, 640],
        help='height width pairs to compare; none to skip',
    )
    parser.add_argument('--repeats', type=positive_int, default=3)
    parser.add_argument('--atol', type=non_negative_float, default=1e-3)
    parser.add_argument('--opset', type=int_range(7), default=17)
    parser.add_argument(
        '--static',
        action='store_true',
        help='fixed 1 x C x --shape input instead of dynamic '
        'batch/height/width (for runtimes that need static '
        'shapes)',
    )
    add_model_options(parser)
    args = parser.parse_args()
    if len(args.check_sizes) % 2:
        parser.error('argument --check-sizes: takes height width pairs')
    return args


def main() -> None:
    silence_known_notices()
    args = parse_args()
    # torch, MMSegmentation and onnx after parsing (fast --help)
    from mmseg_stunet.apis.inference import init_segmentor, model_in_channels
    from mmseg_stunet.apis.onnx_export import (
        check_onnx,
        describe_input,
        export_onnx,
        onnx_metadata,
    )

    for path in (args.config, args.checkpoint):
        if path is not None and not osp.isfile(path):
            raise FileNotFoundError(f'file not found: {path}')
    check_output_kinds(files={'--out': args.out})
    check_outputs(
        {'--out': args.out},
        {'CONFIG': args.config, 'CHECKPOINT': args.checkpoint},
    )
    folder = osp.dirname(osp.abspath(args.out))
    if not osp.isdir(folder):
        raise FileNotFoundError(
            f'--out {args.out}: folder {folder} does not exist'
        )
    model = init_segmentor(
        args.config,
        args.checkpoint,
        'cpu',
        args.cfg_options,
        args.allow_partial,
    )
    channels = model_in_channels(model)
    sizes = list(zip(args.check_sizes[::2], args.check_sizes[1::2]))
    if args.static:
        sizes = [tuple(args.shape)]
    try:
        # moved onto --out only once the check has passed
        with atomic_write(args.out) as tmp:
            metadata = onnx_metadata(model, channels)
            wrapper = export_onnx(
                model,
                tmp,
                channels,
                tuple(args.shape),
                args.opset,
                dynamic=not args.static,
                metadata=metadata,
            )
            if sizes:
                results = check_onnx(
                    wrapper, tmp, channels, sizes, args.repeats
                )
                print(
                    f'{"size":>11} {"max |diff|":>11} {"torch s":>9} '
                    f'{"onnx s":>9} {"speed-up":>9}'
                )
                for (h, w), r in results.items():
                    print(
                        f'{h:>5}x{w:<5} {r["max_abs_diff"]:>11.2e} '
                        f'{r["torch_s"]:>9.3f} {r["onnx_s"]:>9.3f} '
                        f'{r["torch_s"] / r["onnx_s"]:>8.2f}x'
                    )
                worst = max(r['max_abs_diff'] for r in results.values())
                if not worst <= args.atol:  # NaN is no agreement either
                    raise RuntimeError(
                        f'ONNX logits differ from PyTorch by {worst:.2e} > '
                        f'{args.atol}; if only sizes other than --shape fail, '
                        'export with --static'
                    )
    except RuntimeError as err:
        sys.exit(f'error: {args.out} not written: {err}')
    print(f'wrote {args.out} ({osp.getsize(args.out) / 2**20:.1f} MiB)')
    print(describe_input(metadata))


if __name__ == '__main__':
    run_tool_main(main)
