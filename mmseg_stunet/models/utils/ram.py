"""Relational aggregation module (RAM) of ST-UNet: Swin -> CNN fusion."""

from typing import Optional

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_conv_layer
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import nn

from ..layers.soft_pool import global_soft_pool2d
from .weight_init import TorchDefaultInitMixin


@MODELS.register_module()
class RelationalAggregationModule(TorchDefaultInitMixin, BaseModule):
    """RAM: fuses a Swin stage map ``t`` into a CNN stage map ``x``.

    x = DCN(x)                       (3x3 modulated deformable conv, no bias)
    s = ReLU(BN(conv1x1(t)))                     (Swin channels -> C)
    z(v) = ReLU(fc1(v)) for v in avg(s), max(s), softpool(s)   (fc1 shared)
    a = sigmoid(fc2(z(soft) * (z(avg) + z(max))))
    out = x + a * x + s

    As the authors' code: the 1x1 projection's BatchNorm has momentum 0.01,
    the 1x1 conv and the linears keep PyTorch's default initialisation, the
    deformable conv has no bias and keeps its own (mmcv's) initialisation.

    Args:
        channels (int): C, channels of the CNN map (kept).
        swin_channels (int): channels of the Swin map.
        dcn_cfg (dict): conv config of the deformable conv, built with
            ``mmcv.cnn.build_conv_layer(dcn_cfg, C, C, 3, padding=1,
            bias=False)``. Default: ``dict(type='DeformConvV2')``.
        reduction (int): channel reduction of the attention MLP. Default: 2.
        norm_cfg (dict): norm after the 1x1 conv. Default: BN.
        norm_momentum (float, optional): momentum given to that norm (0.01,
            the authors'); None keeps ``norm_cfg``'s own (e.g. for
            GroupNorm, which has none).

    Under autocast the deformable conv samples in float32 and multiplies in
    the autocast dtype (``DeformConvV2``; compiled back-ends run in float32)
    and its output is cast to the dtype of ``x``, so the fused map keeps the
    autocast dtype.

    Shapes: x (B, C, h, w), t (B, Ct, h, w) -> (B, C, h, w).
    """

    def __init__(
        self,
        channels: int,
        swin_channels: int,
        dcn_cfg: dict = dict(type='DeformConvV2'),
        reduction: int = 2,
        norm_cfg: dict = dict(type='BN'),
        norm_momentum: Optional[float] = 0.01,
        init_cfg: Optional[dict] = None,
    ):
        super().__init__(init_cfg)
        self.dcn = build_conv_layer(
            dcn_cfg, channels, channels, 3, padding=1, bias=False
        )
        if norm_momentum is not None:
            norm_cfg = dict(norm_cfg, momentum=norm_momentum)
        self.proj = ConvModule(
            swin_channels,
            channels,
            1,
            norm_cfg=norm_cfg,
            act_cfg=dict(type='ReLU'),
        )
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)
        self.torch_default_init()

    def default_init_roots(self) -> tuple:
        return (self.proj, self.fc1, self.fc2)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing() and x.shape[2:] != t.shape[2:]:
            raise ValueError(
                f'{type(self).__name__}: CNN map {tuple(x.shape)} and Swin '
                f'map {tuple(t.shape)} differ in spatial size'
            )
        x = self.dcn(x).to(x.dtype)
        s = self.proj(t)
        z_avg = F.relu(self.fc1(s.mean(dim=(2, 3))))
        z_max = F.relu(self.fc1(s.amax(dim=(2, 3))))
        z_soft = F.relu(self.fc1(global_soft_pool2d(s)))
        a = torch.sigmoid(self.fc2(z_soft * (z_avg + z_max)))
        return x + a[:, :, None, None] * x + s
