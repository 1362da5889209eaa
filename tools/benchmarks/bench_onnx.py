"""ONNX export of the project's configs: logit agreement and CPU speed.

    python tools/benchmarks/bench_onnx.py [--configs A.py B.py] [--size 256]
        [--repeats 3]

For each config (default: DeepLabV3+ R-50, DeepLabV3+ R-50-DCN, ST-UNet), the
model gets random weights (an untrained ST-UNet stays bounded in eval mode)
and small non-zero DCN offsets, is exported with dynamic height/width and
checked at --size and 1.25 x --size, then exported with a static --size input
and checked there. Prints the largest absolute
logit difference to PyTorch and the median CPU seconds of both.
"""

from __future__ import annotations  # torch types in annotations

import argparse
import os.path as osp
import tempfile
from typing import TYPE_CHECKING

from mmseg_stunet.utils.notices import silence_known_notices
from mmseg_stunet.utils.paths import config_path

if TYPE_CHECKING:  # imported where used, after parsing (fast --help)
    import torch

CONFIGS = [
    'deeplabv3plus/deeplabv3plus_r50-d8_1xb8-100e_vaihingen-256x256.py',
    'deeplabv3plus/deeplabv3plus_r50-d8-dcn_1xb8-100e_vaihingen-256x256.py',
    'st_unet/st-unet_1xb8-100e_vaihingen-256x256.py',
]


def random_model(config: str) -> torch.nn.Module:
    """Random weights (untrained models stay bounded in eval mode) with
    small non-zero DCN offsets."""
    import torch
    from mmengine.config import Config
    from mmseg.apis import init_model

    torch.manual_seed(0)
    model = init_model(Config.fromfile(config), None, 'cpu')
    for name, param in model.named_parameters():
        if 'conv_offset' in name:
            torch.nn.init.normal_(param, std=0.01)
    return model.eval()


def main() -> None:
    silence_known_notices()
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--configs', nargs='+', default=[config_path(c) for c in CONFIGS]
    )
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    from mmseg_stunet.apis.onnx_export import check_onnx, export_onnx

    other = args.size * 5 // 4
    print(
        f'{"config":<36} {"export":>7} {"size":>9} {"max |diff|":>11} '
        f'{"torch s":>8} {"onnx s":>8} {"speed-up":>8}'
    )
    with tempfile.TemporaryDirectory() as tmp:
        for config in args.configs:
            model = random_model(config)
            name = osp.basename(config).split('_1xb8')[0]
            for dynamic in (True, False):
                path = osp.join(tmp, 'model.onnx')
                wrapper = export_onnx(
                    model, path, 3, (args.size, args.size), dynamic=dynamic
                )
                sizes = [(args.size, args.size)]
                if dynamic:
                    sizes.append((other, other))
                for size in sizes:
                    label = 'dynamic' if dynamic else 'static'
                    row = f'{name:<36} {label:>7} {size[0]:>4}x{size[1]:<4}'
                    try:
                        r = check_onnx(wrapper, path, 3, [size], args.repeats)[
                            size
                        ]
                    except RuntimeError as err:
                        print(f'{row} FAILS: {str(err)[:160]}')
                        continue
                    print(
                        f'{row} {r["max_abs_diff"]:>11.2e} '
                        f'{r["torch_s"]:>8.3f} {r["onnx_s"]:>8.3f} '
                        f'{r["torch_s"] / r["onnx_s"]:>7.2f}x'
                    )


if __name__ == '__main__':
    main()
