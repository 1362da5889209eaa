"""Predict class maps for whole scenes (GeoTIFF, PNG, JPEG) with a trained model.

    python tools/predict.py CONFIG CHECKPOINT INPUT [INPUT ...] --out-dir DIR \
        [--window 512] [--overlap 128] [--batch-size 4] [--flip horizontal vertical]

Each INPUT is an image or a folder of images. GeoTIFF in gives a uint8
GeoTIFF of class indices out (same CRS, transform and size, ISPRS colour
table); PNG/JPEG in gives a PNG. ``<name>_preview.png`` overlays the classes
on the image. Memory is bounded by batch size x window, not by the scene.
"""
import argparse
import sys

from mmengine.config import DictAction

from mmseg_stunet.apis import ScenePredictor


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('inputs', nargs='+', help='images and/or folders')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--window', type=int, nargs='+', default=[512],
                        help='window size: one value or height width')
    parser.add_argument('--overlap', type=int, nargs='+', default=[128],
                        help='minimum window overlap: one value or two')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--flip', nargs='*', default=[],
                        choices=['horizontal', 'vertical'],
                        help='test-time flips averaged with the original')
    parser.add_argument('--bands', type=int, nargs='+',
                        help='1-based input bands to use, in this order')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--palette', choices=['isprs', 'model'],
                        default='isprs',
                        help="colours: ISPRS, or the model's dataset_meta")
    parser.add_argument('--no-preview', action='store_true')
    parser.add_argument('--preview-size', type=int, default=2048,
                        help='longest side of the preview in pixels')
    parser.add_argument('--opacity', type=float, default=0.5)
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        predictor = ScenePredictor.from_config(
            args.config, args.checkpoint, args.device, args.cfg_options,
            window=args.window, overlap=args.overlap,
            batch_size=args.batch_size, flip=args.flip, bands=args.bands,
            palette=args.palette, preview=not args.no_preview,
            preview_size=args.preview_size, opacity=args.opacity,
            progress=not args.no_progress)
        outputs = predictor.predict(args.inputs, args.out_dir)
    except (OSError, ValueError) as err:  # bad input: message, no traceback
        sys.exit(f'error: {err}')
    for out in outputs:
        print(' '.join(out.values()))


if __name__ == '__main__':
    main()
