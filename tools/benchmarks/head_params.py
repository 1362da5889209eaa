"""Parameter counts of the DeepLabV3(+) heads for a ResNet-50 (2048-channel
high-level and 256-channel low-level inputs, 21 classes), as in
docs/deeplabv3plus.md.

    python tools/benchmarks/head_params.py
"""

from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmseg_stunet  # noqa: F401

COMMON = dict(
    in_channels=2048,
    in_index=3,
    channels=256,
    num_classes=21,
    norm_cfg=dict(type='BN'),
)
HEADS = {
    'VainFDeepLabV3PlusHead': dict(
        type='VainFDeepLabV3PlusHead',
        c1_in_channels=256,
        c1_channels=48,
        **COMMON,
    ),
    'VainFDeepLabV3PlusHead, separable=True': dict(
        type='VainFDeepLabV3PlusHead',
        c1_in_channels=256,
        c1_channels=48,
        separable=True,
        **COMMON,
    ),
    'VainFDeepLabV3Head': dict(type='VainFDeepLabV3Head', **COMMON),
    'DepthwiseSeparableASPPHead (mmseg::deeplabv3plus: 512 ch, 12/24/36)': dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        dilations=(1, 12, 24, 36),
        c1_in_channels=256,
        c1_channels=48,
        num_classes=21,
        norm_cfg=dict(type='BN'),
    ),
}


def main() -> None:
    init_default_scope('mmseg')
    for name, cfg in HEADS.items():
        n = sum(p.numel() for p in MODELS.build(cfg).parameters())
        print(f'{name:<70} {n / 1e6:6.2f} M')


if __name__ == '__main__':
    main()
