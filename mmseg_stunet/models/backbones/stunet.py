"""ST-UNet dual encoder (He et al., "Swin Transformer Embedding UNet for
Remote Sensing Image Semantic Segmentation", IEEE TGRS 2022)."""

from functools import partial
from typing import List, Optional, Sequence

import torch
from mmengine.model import BaseModule
from mmengine.runner import CheckpointLoader
from mmseg.registry import MODELS
from torch import nn

from ..utils.ckpt_convert import (
    convert_resnetv2_checkpoint,
    convert_swin_checkpoint,
    load_converted,
)
from ..utils.ram import RelationalAggregationModule
from .stunet_cnn import ResNetV2GN
from .stunet_swin import SwinBranch


@MODELS.register_module()
class STUNetBackbone(BaseModule):
    """ST-UNet encoder: CNN main branch, Swin auxiliary branch, RAM fusion.

    The Swin branch (patch embedding, Swin blocks with a SIM per block pair,
    FCM between stages) runs on the image; after every CNN stage a RAM fuses
    the Swin stage map of the same resolution into the CNN map, and the fused
    map feeds the next CNN stage.

    Args:
        in_channels (int): input bands (e.g. 4 for IRRG + DSM). Default: 3.
        base_channels (int): CNN width w (stage outputs 4w, 8w, 16w, 32w).
            32 in the paper (width factor 0.5). Default: 32.
        stage_blocks (Sequence[int]): CNN units per stage.
            Default: (3, 4, 6, 3).
        num_groups (int): GroupNorm groups in the CNN. Default: 32.
        embed_dims (int): Swin width of stage 1. Default: 96.
        depths (Sequence[int]): Swin blocks per stage (even).
            Default: (2, 2, 6, 2).
        num_heads (Sequence[int]): Swin heads per stage.
            Default: (3, 6, 12, 24).
        window_size (int): Swin window. Default: 8.
        mlp_ratio (float): Swin FFN ratio. Default: 4.
        drop_path_rate (float): final stochastic depth rate. Default: 0.1.
        dcn_cfg (dict): deformable conv of the RAMs, built with
            ``build_conv_layer``. Default: ``dict(type='DeformConvV2')``.
        norm_cfg (dict): BatchNorm-like norm of SIM, FCM and RAM.
        sim_clip_z (float, optional): eval-mode bound of the SIMs'
            standardised product, which keeps blank and nodata input finite
            (see ``SpatialInteractionModule``); None: unbounded. Default: 20.
        out_indices (Sequence[int]): which of (F0 stem, fused stage 1..4) to
            return. Default: (0, 1, 2, 3, 4).
        swin_pretrained (str, optional): Swin checkpoint (mmpretrain, mmseg or
            official layout) for the Swin branch.
        cnn_pretrained (str, optional): timm ``ResNetV2`` checkpoint for the
            CNN branch.

    Shapes: (B, in, H, W) -> F0 (B, w, H/2, W/2), fused stage i
    (B, 4w*2^i, H/2^(i+2), W/2^(i+2)) for i = 0..3; sizes rounded up.
    """

    def __init__(
        self,
        in_channels: int = 3,
        base_channels: int = 32,
        stage_blocks: Sequence[int] = (3, 4, 6, 3),
        num_groups: int = 32,
        embed_dims: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: int = 8,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.1,
        dcn_cfg: dict = dict(type='DeformConvV2'),
        norm_cfg: dict = dict(type='BN', requires_grad=True),
        sim_clip_z: Optional[float] = 20.0,
        out_indices: Sequence[int] = (0, 1, 2, 3, 4),
        swin_pretrained: Optional[str] = None,
        cnn_pretrained: Optional[str] = None,
        init_cfg: Optional[dict] = None,
    ):
        super().__init__(init_cfg)
        if len(stage_blocks) != len(depths):
            raise ValueError(
                f'STUNetBackbone: stage_blocks {stage_blocks} and '
                f'depths {depths} need the same number of stages'
            )
        self.out_indices = tuple(out_indices)
        self.window_size = window_size
        self.swin_pretrained = swin_pretrained
        self.cnn_pretrained = cnn_pretrained
        self.cnn = ResNetV2GN(
            in_channels, base_channels, stage_blocks, num_groups
        )
        self.swin = SwinBranch(
            in_channels,
            embed_dims,
            depths,
            num_heads,
            window_size,
            mlp_ratio,
            True,
            drop_path_rate,
            norm_cfg,
            sim_clip_z=sim_clip_z,
        )
        self.rams = nn.ModuleList(
            [
                RelationalAggregationModule(c, t, dcn_cfg, norm_cfg=norm_cfg)
                for c, t in zip(self.cnn.out_channels, self.swin.out_channels)
            ]
        )

    def init_weights(self) -> None:
        super().init_weights()
        if self.swin_pretrained:
            ckpt = CheckpointLoader.load_checkpoint(
                self.swin_pretrained, map_location='cpu'
            )
            sd, skipped = convert_swin_checkpoint(ckpt, self.window_size)
            load_converted(
                self.swin,
                sd,
                skipped,
                f'Swin branch <- {self.swin_pretrained}',
            )
        if self.cnn_pretrained:
            ckpt = CheckpointLoader.load_checkpoint(
                self.cnn_pretrained, map_location='cpu'
            )
            sd, skipped = convert_resnetv2_checkpoint(ckpt)
            load_converted(
                self.cnn, sd, skipped, f'CNN branch <- {self.cnn_pretrained}'
            )

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        swin_maps = self.swin(x)
        fusers = [partial(ram, t=t) for ram, t in zip(self.rams, swin_maps)]
        outs = self.cnn(x, fusers)
        return [outs[i] for i in self.out_indices]
