"""Convert a VainF/DeepLabV3Plus-Pytorch checkpoint to MMSegmentation.

    python tools/model_converters/vainf2mmseg.py SRC DST
        [--config CFG | --output-stride {8,16}] [--out-config PATH] [--trust]

SRC is VainF's ``{'model_state': ...}`` file of a ResNet-50/101 DeepLabV3 or
DeepLabV3+ model (separable or not). DST receives ``{'meta', 'state_dict'}``
and, next to it (or at --out-config), the complete config of the model. Without
--config the matching ``configs/vainf`` VOC config is used; the output stride
then comes from --output-stride or from ``os8``/``os16`` in SRC's name.
Nothing is written when the checkpoint does not fit.
"""

import argparse
from typing import List, Optional

from mmseg_stunet.engine.errors import run_tool_main
from mmseg_stunet.utils.paths import check_output_kinds, config_path


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='VainF checkpoint')
    parser.add_argument('dst', help='output MMSegmentation checkpoint')
    parser.add_argument(
        '--config', help='target config (must match the checkpoint)'
    )
    parser.add_argument(
        '--output-stride',
        type=int,
        choices=(8, 16),
        help='output stride of the converted model (without --config)',
    )
    parser.add_argument(
        '--out-config',
        help='where to write the config (default: DST with .py)',
    )
    parser.add_argument(
        '--trust',
        action='store_true',
        help='load SRC with weights_only=False (trusted files only)',
    )
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    # torch after parsing (fast --help)
    from mmseg_stunet.converters.vainf import VainFConversionError

    run_tool_main(lambda: convert(args), (VainFConversionError,))


def convert(args: argparse.Namespace) -> None:
    from mmseg_stunet.converters.vainf import convert_vainf_checkpoint

    check_output_kinds(
        files={'DST': args.dst, '--out-config': args.out_config}
    )
    dst, config = convert_vainf_checkpoint(
        args.src,
        args.dst,
        config=args.config,
        output_stride=args.output_stride,
        out_config=args.out_config,
        config_dir=None if args.config else config_path('vainf'),
        trust=args.trust,
    )
    print(f'wrote {dst} and {config}')


if __name__ == '__main__':
    main()
