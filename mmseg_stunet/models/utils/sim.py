"""Spatial interaction module (SIM) of ST-UNet (He et al., TGRS 2022)."""
from typing import Optional

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmseg.registry import MODELS
from .weight_init import TorchDefaultInitMixin


@MODELS.register_module()
class SpatialInteractionModule(TorchDefaultInitMixin, BaseModule):
    """SIM: spatial context for a pair of Swin blocks.

    ``s = GELU(BN(conv3x3_dil2(x)))`` (C -> C/2); the outer product of its row
    means (C/2, h, 1) and column means (C/2, 1, w); ``GELU(BN(conv1x1))`` back
    to C channels. The caller adds the result to the tokens after the pair.
    Convolutions keep PyTorch's default initialisation, as the authors'.

    Args:
        channels (int): C, channels of the token map.
        norm_cfg (dict): norm after each conv. Default: BN.
        act_cfg (dict): activation after each conv. Default: GELU.

    Shapes: (B, C, h, w) -> (B, C, h, w).
    """

    def __init__(self,
                 channels: int,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.reduce = ConvModule(channels,
                                 channels // 2,
                                 3,
                                 padding=2,
                                 dilation=2,
                                 norm_cfg=norm_cfg,
                                 act_cfg=act_cfg)
        self.expand = ConvModule(channels // 2,
                                 channels,
                                 1,
                                 norm_cfg=norm_cfg,
                                 act_cfg=act_cfg)
        self.torch_default_init()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.reduce(x)
        # (B, C/2, h, 1) @ (B, C/2, 1, w): outer product of row / column means
        s = s.mean(dim=3, keepdim=True) @ s.mean(dim=2, keepdim=True)
        return self.expand(s)
