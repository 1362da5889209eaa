"""Spatial interaction module (SIM) of ST-UNet (He et al., TGRS 2022)."""

from typing import Optional

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import nn

from .weight_init import TorchDefaultInitMixin


def bounded_eval_norm(
    norm: nn.Module, x: torch.Tensor, bound: float
) -> torch.Tensor:
    """Eval-mode batch norm whose standardised value ``(x - running_mean) /
    sqrt(running_var + eps)`` is clamped to ``[-bound, bound]`` before the
    affine transform. Equal to the norm wherever ``|z| <= bound``."""
    shape = (1, -1) + (1,) * (x.dim() - 2)
    z = (x - norm.running_mean.view(shape)) * torch.rsqrt(
        norm.running_var.view(shape) + norm.eps
    )
    z = z.clamp(-bound, bound)
    if norm.affine:
        z = z * norm.weight.view(shape) + norm.bias.view(shape)
    return z.to(x.dtype)


@MODELS.register_module()
class SpatialInteractionModule(TorchDefaultInitMixin, BaseModule):
    """SIM: spatial context for a pair of Swin blocks.

    ``s = GELU(BN(conv3x3_dil2(x)))`` (C -> C/2); the outer product of its row
    means (C/2, h, 1) and column means (C/2, 1, w); ``GELU(BN(conv1x1))`` back
    to C channels. The caller adds the result to the tokens after the pair.
    Convolutions keep PyTorch's default initialisation, as the authors'.

    Inputs far from the training data. On natural images the row and
    column means of ``s`` are small and stable (averaging shrinks them), so
    the second BatchNorm learns a tiny running variance of their product
    (about 1e-3 in trained models). A spatially uniform input (blank tile,
    nodata border, cloud, saturated roof) is not averaged away: the product
    is the square of the pixel's deviation, divided by that tiny running
    standard deviation, and the next SIM squares the result again; the
    activations grow doubly exponentially over the SIMs to inf and NaN. In
    eval mode the second BatchNorm's standardised value is therefore
    clamped to ``+-clip_z`` (:func:`bounded_eval_norm`, a ReAct-style
    rectification at a fixed number of training standard deviations): on
    in-distribution data it never binds (largest value seen on the demo's
    test set: 10.0), so the computation is the paper's; training (batch
    statistics) is unaffected.

    Args:
        channels (int): C, channels of the token map.
        norm_cfg (dict): norm after each conv. Default: BN.
        act_cfg (dict): activation after each conv. Default: GELU.
        clip_z (float, optional): bound of the second BatchNorm's
            standardised value in eval mode; None computes the unbounded
            form of the authors' code. Default: 20. Applies to norms with
            running statistics only.

    Shapes: (B, C, h, w) -> (B, C, h, w).
    """

    def __init__(
        self,
        channels: int,
        norm_cfg: dict = dict(type='BN'),
        act_cfg: dict = dict(type='GELU'),
        clip_z: Optional[float] = 20.0,
        init_cfg: Optional[dict] = None,
    ):
        super().__init__(init_cfg)
        self.reduce = ConvModule(
            channels,
            channels // 2,
            3,
            padding=2,
            dilation=2,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
        )
        self.expand = ConvModule(
            channels // 2, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg
        )
        self.clip_z = clip_z
        self.torch_default_init()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.reduce(x)
        # (B, C/2, h, 1) @ (B, C/2, 1, w): outer product of row / column means
        s = s.mean(dim=3, keepdim=True) @ s.mean(dim=2, keepdim=True)
        norm = getattr(self.expand, 'norm', None)
        if (
            self.training
            or self.clip_z is None
            or getattr(norm, 'running_var', None) is None
        ):
            return self.expand(s)
        s = bounded_eval_norm(norm, self.expand.conv(s), self.clip_z)
        return self.expand.activate(s) if self.expand.with_activation else s

    def extra_repr(self) -> str:
        return f'clip_z={self.clip_z}'
