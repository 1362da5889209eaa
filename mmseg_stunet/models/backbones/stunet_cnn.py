"""CNN branch of ST-UNet: ResNet-50 v2, GroupNorm, weight standardisation.

Post-activation bottleneck units as in TransUNet / the R50 of the hybrid ViT
(``vit_jax``); module names follow timm's ``ResNetV2`` (``stem.conv``,
``stages.i.blocks.j.conv1`` ...), so its checkpoints map onto it.
"""

from typing import Callable, List, Optional, Sequence

import torch
from torch import nn

from ..layers.std_conv import StdConv2d


class BottleneckUnit(nn.Module):
    """y = ReLU(GN(conv1x1 x)); y = ReLU(GN(conv3x3/s y)); y = GN(conv1x1 y);
    out = ReLU(y + GN_proj(conv1x1/s x)) (projection when the shape changes).

    Shapes: (B, in, h, w) -> (B, out, ceil(h/s), ceil(w/s)).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mid_channels: int,
        stride: int = 1,
        num_groups: int = 32,
    ):
        super().__init__()
        self.conv1 = StdConv2d(in_channels, mid_channels, 1, bias=False)
        self.norm1 = nn.GroupNorm(num_groups, mid_channels, eps=1e-6)
        self.conv2 = StdConv2d(
            mid_channels, mid_channels, 3, stride=stride, padding=1, bias=False
        )
        self.norm2 = nn.GroupNorm(num_groups, mid_channels, eps=1e-6)
        self.conv3 = StdConv2d(mid_channels, out_channels, 1, bias=False)
        self.norm3 = nn.GroupNorm(num_groups, out_channels, eps=1e-6)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential()
            self.downsample.add_module(
                'conv',
                StdConv2d(
                    in_channels, out_channels, 1, stride=stride, bias=False
                ),
            )
            self.downsample.add_module(
                'norm', nn.GroupNorm(out_channels, out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.norm1(self.conv1(x)))
        y = self.relu(self.norm2(self.conv2(y)))
        y = self.norm3(self.conv3(y))
        return self.relu(y + shortcut)


class ResNetV2Stage(nn.Module):
    """``depth`` bottleneck units; the first one carries the stride."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mid_channels: int,
        depth: int,
        stride: int,
        num_groups: int,
    ):
        super().__init__()
        self.blocks = nn.Sequential(
            *[
                BottleneckUnit(
                    in_channels if i == 0 else out_channels,
                    out_channels,
                    mid_channels,
                    stride if i == 0 else 1,
                    num_groups,
                )
                for i in range(depth)
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class ResNetV2GN(nn.Module):
    """Stem and stages of the CNN branch (the RAMs sit between the stages).

    Args:
        in_channels (int): input bands. Default: 3.
        base_channels (int): w, stem width; stage i has mid width w*2^i and
            output 4*w*2^i. 32 in the paper (width factor 0.5), 64 for
            BiT-R50x1. Default: 32.
        stage_blocks (Sequence[int]): units per stage. Default: (3, 4, 6, 3).
        num_groups (int): GroupNorm groups of the stem and gn1..gn3.
            Default: 32.

    ``stem``: (B, in, H, W) -> F0 (B, w, ceil(H/2), ceil(W/2));
    ``pool``: -> ceil(H/4);
    ``stages[i]``: -> (B, 4*w*2^i, ceil(H/2^(i+2)), ceil(W/2^(i+2))).
    :meth:`forward` returns ``[F0, S1, ..., S4]``.
    """

    def __init__(
        self,
        in_channels: int = 3,
        base_channels: int = 32,
        stage_blocks: Sequence[int] = (3, 4, 6, 3),
        num_groups: int = 32,
    ):
        super().__init__()
        w = base_channels
        self.stem = nn.Sequential()
        self.stem.add_module(
            'conv',
            StdConv2d(in_channels, w, 7, stride=2, padding=3, bias=False),
        )
        self.stem.add_module('norm', nn.GroupNorm(num_groups, w, eps=1e-6))
        self.stem.add_module('act', nn.ReLU(inplace=True))
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.out_channels: List[int] = []
        self.stages = nn.ModuleList()
        in_ch = w
        for i, depth in enumerate(stage_blocks):
            mid = w * 2**i
            self.stages.append(
                ResNetV2Stage(
                    in_ch, 4 * mid, mid, depth, 1 if i == 0 else 2, num_groups
                )
            )
            in_ch = 4 * mid
            self.out_channels.append(in_ch)

    def forward(
        self,
        x: torch.Tensor,
        fusers: Optional[
            Sequence[Callable[[torch.Tensor], torch.Tensor]]
        ] = None,
    ) -> List[torch.Tensor]:
        """Stem, pool and stages: ``[F0, S1, S2, S3, S4]``.

        ``fusers[i]``, if given, maps the output of stage i before it is
        returned and fed to stage i+1 (ST-UNet puts its RAMs there).
        """
        f0 = self.stem(x)
        outs = [f0]
        y = self.pool(f0)
        for i, stage in enumerate(self.stages):
            y = stage(y)
            if fusers is not None:
                y = fusers[i](y)
            outs.append(y)
        return outs
