"""Relational aggregation module (RAM) of ST-UNet: Swin -> CNN fusion."""
import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_conv_layer
from mmengine.model import BaseModule
from torch import nn

from mmseg.registry import MODELS
from ..layers.soft_pool import global_soft_pool2d


@MODELS.register_module()
class RelationalAggregationModule(BaseModule):
    """RAM: fuses a Swin stage map ``t`` into a CNN stage map ``x``.

    x = DCN(x)                       (3x3 modulated deformable conv)
    s = ReLU(BN(conv1x1(t)))                     (Swin channels -> C)
    z(v) = ReLU(fc1(v)) for v in avg(s), max(s), softpool(s)   (fc1 shared)
    a = sigmoid(fc2(z(soft) * (z(avg) + z(max))))
    out = x + a * x + s

    Args:
        channels (int): C, channels of the CNN map (kept).
        swin_channels (int): channels of the Swin map.
        dcn_cfg (dict): conv config of the deformable conv, built with
            ``mmcv.cnn.build_conv_layer(dcn_cfg, C, C, 3, padding=1)``.
            Default: ``dict(type='DeformConvV2')``.
        reduction (int): channel reduction of the attention MLP. Default: 2.
        norm_cfg (dict): norm after the 1x1 conv. Default: BN.

    Shapes: x (B, C, h, w), t (B, Ct, h, w) -> (B, C, h, w).
    """

    def __init__(self,
                 channels: int,
                 swin_channels: int,
                 dcn_cfg: dict = dict(type='DeformConvV2'),
                 reduction: int = 2,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg=None):
        super().__init__(init_cfg)
        self.dcn = build_conv_layer(dcn_cfg, channels, channels, 3, padding=1)
        self.proj = ConvModule(swin_channels,
                               channels,
                               1,
                               norm_cfg=norm_cfg,
                               act_cfg=dict(type='ReLU'))
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.shape[2:] != t.shape[2:]:
            raise ValueError(
                f'{type(self).__name__}: CNN map {tuple(x.shape)} and Swin '
                f'map '
                f'{tuple(t.shape)} differ in spatial size')
        # the deformable conv runs in its weights' precision under autocast:
        # its bilinear gather has no fast reduced-precision path
        with torch.autocast(x.device.type, enabled=False):
            x = self.dcn(x.to(self.dcn.weight.dtype))
        s = self.proj(t)
        z_avg = F.relu(self.fc1(s.mean(dim=(2, 3))))
        z_max = F.relu(self.fc1(s.amax(dim=(2, 3))))
        z_soft = F.relu(self.fc1(global_soft_pool2d(s)))
        a = torch.sigmoid(self.fc2(z_soft * (z_avg + z_max)))
        return x + a[:, :, None, None] * x + s
