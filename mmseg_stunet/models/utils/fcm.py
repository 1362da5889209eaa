"""Feature compression module (FCM) of ST-UNet (replaces patch merging)."""

from typing import Optional

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import nn

from ..layers.soft_pool import SoftPool2d
from .weight_init import TorchDefaultInitMixin


@MODELS.register_module()
class FeatureCompressionModule(TorchDefaultInitMixin, BaseModule):
    """FCM: halves the resolution and doubles the channels of a token map.

    main  = GELU(BN(conv1x1 C->2C)) -> BN(conv3x3_dil2 2C->2C)
            -> GELU(BN(conv1x1 stride 2, 2C->2C))
    short = GELU(BN(conv1x1 C->2C))(GroupNorm(C/2 groups)(SoftPool2x2(x)))
    out   = main + short

    Convolutions keep PyTorch's default initialisation, as the authors'.

    Args:
        in_channels (int): C.
        out_channels (int, optional): output channels, 2C by default.
        norm_cfg (dict): norm after each conv. Default: BN.
        act_cfg (dict): activation. Default: GELU.

    Shapes: (B, C, h, w) -> (B, 2C, ceil(h/2), ceil(w/2)).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: Optional[int] = None,
        norm_cfg: dict = dict(type='BN'),
        act_cfg: dict = dict(type='GELU'),
        init_cfg: Optional[dict] = None,
    ):
        super().__init__(init_cfg)
        c, c2 = in_channels, out_channels or 2 * in_channels
        self.main = nn.Sequential(
            ConvModule(c, c2, 1, norm_cfg=norm_cfg, act_cfg=act_cfg),
            ConvModule(
                c2,
                c2,
                3,
                padding=2,
                dilation=2,
                norm_cfg=norm_cfg,
                act_cfg=None,
            ),
            ConvModule(
                c2, c2, 1, stride=2, norm_cfg=norm_cfg, act_cfg=act_cfg
            ),
        )
        self.pool = SoftPool2d(2)
        self.pool_norm = nn.GroupNorm(c // 2, c)
        self.shortcut = ConvModule(
            c, c2, 1, norm_cfg=norm_cfg, act_cfg=act_cfg
        )
        self.torch_default_init()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.shortcut(self.pool_norm(self.pool(x)))
