"""Command line shared by ``vaihingen.py`` and ``potsdam.py`` (the
conversion itself is ``mmseg_stunet.converters.isprs.convert_isprs``)."""

import argparse
import os.path as osp
import sys
from typing import TYPE_CHECKING, List, Optional

from mmseg_stunet.datasets.meta import POTSDAM_MODALITIES, SPLITS
from mmseg_stunet.engine.errors import run_tool_main
from mmseg_stunet.utils.cli import positive_int
from mmseg_stunet.utils.paths import check_output_kinds

if TYPE_CHECKING:
    from mmseg_stunet.converters.isprs import Summary


def main(dataset: str, argv: Optional[List[str]] = None) -> 'Summary':
    parser = argparse.ArgumentParser(
        description=f'Convert the ISPRS {dataset.capitalize()} archives into '
        "MMSegmentation's img_dir/ann_dir layout"
    )
    parser.add_argument(
        'inputs',
        nargs='+',
        help='zip files and/or folders as ISPRS '
        'distributes them (nested zips and extracted folders work)',
    )
    parser.add_argument('-o', '--out-dir', default=osp.join('data', dataset))
    parser.add_argument(
        '--size',
        type=positive_int,
        default=256,
        help='tile size (paper: 256; MMSegmentation: 512)',
    )
    parser.add_argument(
        '--stride',
        type=positive_int,
        default=None,
        help='tile step (default: size, non-overlapping; '
        'MMSegmentation: 256 with size 512)',
    )
    parser.add_argument(
        '--split',
        default='paper',
        choices=sorted(SPLITS[dataset]),
        help='paper: He et al. 2022 train/test areas; '
        "mmseg: MMSegmentation's train/val lists",
    )
    if dataset == 'potsdam':
        parser.add_argument(
            '--modality',
            default='RGB',
            choices=POTSDAM_MODALITIES,
            help='which image archive to tile',
        )
    parser.add_argument(
        '--allow-missing',
        action='store_true',
        help='convert the areas that are complete when '
        'areas of the split are absent or lack a file '
        '(default: stop, since the split would change)',
    )
    parser.add_argument('--no-progress', action='store_true')
    args = parser.parse_args(argv)
    # the conversion (cv2, the data sets' colours from MMSegmentation) loads
    # only now: --help and argument errors need none of it
    from mmseg_stunet.converters.isprs import ConversionError

    return run_tool_main(lambda: convert(dataset, args), (ConversionError,))


def convert(dataset: str, args: argparse.Namespace) -> 'Summary':
    """Convert as ``args`` say and print the summary."""
    from mmseg_stunet.converters.isprs import convert_isprs

    check_output_kinds({'-o/--out-dir': args.out_dir})
    s = convert_isprs(
        dataset,
        args.inputs,
        args.out_dir,
        args.size,
        args.stride,
        args.split,
        getattr(args, 'modality', 'RGB'),
        not args.no_progress,
        args.allow_missing,
    )
    print(
        f'{args.out_dir}: {s.tiles["train"]} train and {s.tiles["val"]} val '
        f'tiles; converted {len(s.converted)}, already finished '
        f'{len(s.skipped_finished)}'
    )
    if s.not_in_split:
        print(f'not in the {args.split} split: {s.not_in_split}')
    if s.incomplete:
        print(
            f'left out, incomplete (--allow-missing): {s.incomplete}',
            file=sys.stderr,
        )
    if s.absent:
        print(
            f'split areas not found (--allow-missing): {s.absent}',
            file=sys.stderr,
        )
    return s
