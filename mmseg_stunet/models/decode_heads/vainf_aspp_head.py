"""DeepLabV3 / V3+ heads with the structure of VainF/DeepLabV3Plus-Pytorch.

They differ from MMSegmentation's ``ASPPHead`` / ``DepthwiseSeparableASPPHead``
(see ``docs/deeplabv3plus.md``): the ASPP is projected by a 1x1 conv followed
by dropout 0.1 (not a 3x3 conv), the image-pooling branch is concatenated
last, the DeepLabV3+ decoder concatenates the 48-channel low-level projection
*before* the ASPP output and fuses with a single 3x3 conv, and convolutions
are plain unless ``separable=True``, in which case every kxk conv (k > 1)
becomes VainF's ``AtrousSeparableConvolution``: a depthwise conv and a
pointwise conv with no norm or activation between them, then the original
BN + ReLU.
"""

from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmseg.models.decode_heads.aspp_head import ASPPModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor


def _conv3x3(
    in_channels: int, out_channels: int, dilation: int, separable: bool, **cfg
) -> nn.Module:
    """3x3 conv-norm-act, or VainF's separable version of it."""
    if separable:
        return DepthwiseSeparableConvModule(
            in_channels,
            out_channels,
            3,
            padding=dilation,
            dilation=dilation,
            dw_norm_cfg=None,
            dw_act_cfg=None,
            bias=False,
            **cfg,
        )
    return ConvModule(
        in_channels,
        out_channels,
        3,
        padding=dilation,
        dilation=dilation,
        bias=False,
        **cfg,
    )


class VainFASPP(nn.Module):
    """VainF's ASPP: five branches, concatenated, 1x1 projection, dropout.

    Branches in concatenation order: 1x1 conv, three 3x3 atrous convs
    (``dilations``), image pooling (global average, 1x1 conv, broadcast back).

    Args:
        in_channels (int): Input channels C.
        channels (int): Channels of every branch and of the output (256).
        dilations (tuple[int]): The three atrous rates, (6, 12, 18) at output
            stride 16 and (12, 24, 36) at output stride 8.
        separable (bool): Use depthwise separable atrous convs.
        dropout_ratio (float): Dropout after the projection. Default 0.1.
        align_corners (bool): Interpolation mode of the pooling branch.

    Shapes: (N, C, H, W) -> (N, channels, H, W).
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        dilations: Sequence[int] = (6, 12, 18),
        separable: bool = False,
        dropout_ratio: float = 0.1,
        align_corners: bool = False,
        conv_cfg: Optional[dict] = None,
        norm_cfg: Optional[dict] = dict(type='BN'),
        act_cfg: Optional[dict] = dict(type='ReLU'),
    ):
        super().__init__()
        if len(dilations) != 3:
            raise ValueError(
                'VainFASPP takes three atrous rates, got '
                f'dilations={tuple(dilations)}'
            )
        self.align_corners = align_corners
        cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.aspp_modules = ASPPModule(
            (1,) + tuple(dilations), in_channels, channels, **cfg
        )
        if separable:
            for i, dilation in enumerate(dilations, 1):
                self.aspp_modules[i] = _conv3x3(
                    in_channels, channels, dilation, True, **cfg
                )
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            ConvModule(in_channels, channels, 1, **cfg),
        )
        self.project = ConvModule(5 * channels, channels, 1, **cfg)
        self.dropout = nn.Dropout(dropout_ratio)

    def forward(self, x: Tensor) -> Tensor:
        outs = self.aspp_modules(x)
        outs.append(
            resize(
                self.image_pool(x),
                size=x.shape[2:],
                mode='bilinear',
                align_corners=self.align_corners,
            )
        )
        return self.dropout(self.project(torch.cat(outs, dim=1)))


@MODELS.register_module()
class VainFDeepLabV3Head(BaseDecodeHead):
    """DeepLabV3 head of VainF/DeepLabV3Plus-Pytorch (``DeepLabHead``).

    ASPP (:class:`VainFASPP`) -> 3x3 conv-BN-ReLU -> 1x1 classifier. There is
    no dropout before the classifier, so ``dropout_ratio`` defaults to 0.

    Args:
        dilations (tuple[int]): Atrous rates of the ASPP, (6, 12, 18) at
            output stride 16, (12, 24, 36) at output stride 8.
        separable (bool): VainF's ``--separable_conv``: every 3x3 conv is a
            depthwise conv followed by a pointwise conv.
        aspp_dropout_ratio (float): Dropout after the ASPP projection.

    Shapes: inputs[in_index] (N, in_channels, H, W) -> (N, num_classes, H, W).
    """

    def __init__(
        self,
        dilations: Sequence[int] = (6, 12, 18),
        separable: bool = False,
        aspp_dropout_ratio: float = 0.1,
        **kwargs,
    ):
        kwargs.setdefault('dropout_ratio', 0.0)
        super().__init__(**kwargs)
        self.separable = separable
        cfg = dict(
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg,
        )
        self.aspp = VainFASPP(
            self.in_channels,
            self.channels,
            dilations,
            separable=separable,
            dropout_ratio=aspp_dropout_ratio,
            align_corners=self.align_corners,
            **cfg,
        )
        self.bottleneck = _conv3x3(
            self._bottleneck_in_channels(), self.channels, 1, separable, **cfg
        )

    def _bottleneck_in_channels(self) -> int:
        return self.channels

    def _forward_feature(self, inputs: List[Tensor]) -> Tensor:
        """(N, in_channels, H, W) -> (N, channels, H, W)."""
        return self.bottleneck(self.aspp(self._transform_inputs(inputs)))

    def forward(self, inputs: List[Tensor]) -> Tensor:
        return self.cls_seg(self._forward_feature(inputs))


@MODELS.register_module()
class VainFDeepLabV3PlusHead(VainFDeepLabV3Head):
    """DeepLabV3+ head of VainF/DeepLabV3Plus-Pytorch (``DeepLabHeadV3Plus``).

    low = ReLU(BN(1x1 conv(inputs[0]: c1_in_channels -> c1_channels)));
    high = ASPP(inputs[in_index]) upsampled to the size of ``low``;
    out = classifier(3x3 conv-BN-ReLU(cat([low, high]))).

    Args:
        c1_in_channels (int): Channels of the low-level map inputs[0]
            (256 for ResNet layer1).
        c1_channels (int): Channels of its projection (48).

    Shapes: inputs[0] (N, c1_in_channels, H/4, W/4) and inputs[in_index]
    (N, in_channels, H/16 or H/8, ...) -> (N, num_classes, H/4, W/4).
    """

    def __init__(
        self, c1_in_channels: int = 256, c1_channels: int = 48, **kwargs
    ):
        self.c1_channels = c1_channels
        super().__init__(**kwargs)
        self.c1_bottleneck = ConvModule(
            c1_in_channels,
            c1_channels,
            1,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg,
        )

    def _bottleneck_in_channels(self) -> int:
        return self.c1_channels + self.channels

    def _forward_feature(self, inputs: List[Tensor]) -> Tensor:
        low = self.c1_bottleneck(inputs[0])
        high = resize(
            self.aspp(self._transform_inputs(inputs)),
            size=low.shape[2:],
            mode='bilinear',
            align_corners=self.align_corners,
        )
        return self.bottleneck(torch.cat([low, high], dim=1))
