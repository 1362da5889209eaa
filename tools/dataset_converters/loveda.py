"""Convert the LoveDA archives into MMSegmentation's layout.

    python tools/dataset_converters/loveda.py RAW_ZIPS_OR_FOLDERS... -o data/loveDA \
        [--domains Urban Rural] [--allow-missing]

See docs/data.md; the conversion is mmseg_stunet/converters/loveda.py.
"""

import argparse
import os.path as osp
import sys
from typing import TYPE_CHECKING, List, Optional

from mmseg_stunet.datasets.meta import LOVEDA_DOMAINS
from mmseg_stunet.engine.errors import run_tool_main
from mmseg_stunet.utils.paths import check_output_kinds

if TYPE_CHECKING:
    from mmseg_stunet.converters.loveda import LoveDASummary


def main(argv: Optional[List[str]] = None) -> 'LoveDASummary':
    parser = argparse.ArgumentParser(
        description='Convert the LoveDA archives (Train.zip, Val.zip, '
        "Test.zip) into MMSegmentation's img_dir/ann_dir layout"
    )
    parser.add_argument(
        'inputs',
        nargs='+',
        help='the zips, their extracted folders, or a folder holding them',
    )
    parser.add_argument('-o', '--out-dir', default=osp.join('data', 'loveDA'))
    parser.add_argument(
        '--domains',
        nargs='+',
        default=list(LOVEDA_DOMAINS),
        choices=LOVEDA_DOMAINS,
        help='scene domains to convert (default: both)',
    )
    parser.add_argument(
        '--allow-missing',
        action='store_true',
        help='convert when Train, Val or Test is absent',
    )
    parser.add_argument('--no-progress', action='store_true')
    args = parser.parse_args(argv)
    # the conversion loads only now: --help needs none of it
    from mmseg_stunet.converters.isprs import ConversionError
    from mmseg_stunet.converters.loveda import convert_loveda

    def convert() -> 'LoveDASummary':
        check_output_kinds({'-o/--out-dir': args.out_dir})
        s = convert_loveda(
            args.inputs,
            args.out_dir,
            args.domains,
            args.allow_missing,
            not args.no_progress,
        )
        print(
            f'{args.out_dir}: wrote {s.written}, already there {s.unchanged}'
        )
        if s.missing_splits:
            print(
                f'not found (--allow-missing): {s.missing_splits}',
                file=sys.stderr,
            )
        return s

    return run_tool_main(convert, (ConversionError,))


if __name__ == '__main__':
    main()
