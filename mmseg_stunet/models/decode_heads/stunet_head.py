"""ST-UNet decoder: cascaded UNet up-sampling over the fused encoder maps."""

from typing import List, Optional, Sequence

import torch
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import SampleList
from torch import Tensor, nn

from ..utils.weight_init import TorchDefaultInitMixin


class DecoderBlock(nn.Module):
    """ConvTranspose 2x2/2 (in -> in/2), [concat skip], two 3x3 conv-BN-ReLU.

    Shapes: (B, in, h, w) [+ skip (B, s, h', w')] -> (B, out, h', w') with
    (h', w') the skip's size (<= 2h, 2w), or (2h, 2w) without skip.
    """

    def __init__(
        self,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        conv_cfg: Optional[dict],
        norm_cfg: Optional[dict],
        act_cfg: Optional[dict],
    ):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, 2, 2)
        cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv1 = ConvModule(
            in_channels // 2 + skip_channels, out_channels, 3, padding=1, **cfg
        )
        self.conv2 = ConvModule(
            out_channels, out_channels, 3, padding=1, **cfg
        )

    def forward(self, x: Tensor, skip: Optional[Tensor] = None) -> Tensor:
        x = self.up(x)
        if skip is not None:
            # the up-sampled map may overhang odd-sized skips by one pixel
            x = torch.cat([x[..., : skip.shape[2], : skip.shape[3]], skip], 1)
        return self.conv2(self.conv1(x))


@MODELS.register_module()
class STUNetHead(TorchDefaultInitMixin, BaseDecodeHead):
    """UNet-style cascaded decoder of ST-UNet.

    Bottom 3x3 conv-BN-ReLU on the deepest map; one ``DecoderBlock`` per
    entry of ``decoder_channels``, taking the other selected maps as skips
    from deep to shallow (blocks beyond the skips have none); a final
    ConvTranspose 2x2/2 to ``channels`` and a 3x3 classifier. At the paper's
    setting: blocks 1024 -> 512 -> 256 -> 128 -> 64 with the fused stages 3,
    2, 1 as skips, then 64 -> 16 channels at full resolution.

    Every convolution, the classifier included, keeps PyTorch's default
    initialisation as in the authors' code (``BaseDecodeHead`` would draw the
    classifier from Normal(0, 0.01) and ``ConvModule`` its convs from Kaiming
    normal) unless an ``init_cfg`` is given.

    Args:
        in_channels (Sequence[int]): channels of the selected maps, shallow to
            deep. Default: (128, 256, 512, 1024), the fused stages 1..4.
        channels (int): channels before the classifier. Default: 16.
        decoder_channels (Sequence[int]): block outputs. Default:
            (512, 256, 128, 64).
        in_index (Sequence[int]): backbone outputs to use.
            Default: (1, 2, 3, 4).

    Other arguments (losses, ``align_corners``, sampler, ``dropout_ratio``)
    are those of ``BaseDecodeHead``. Logits: (B, num_classes, H, W) for an
    input whose deepest map is H/32; the part that overhangs an odd-sized
    input is cropped before the loss and prediction.
    """

    def __init__(
        self,
        in_channels: Sequence[int] = (128, 256, 512, 1024),
        channels: int = 16,
        decoder_channels: Sequence[int] = (512, 256, 128, 64),
        in_index: Sequence[int] = (1, 2, 3, 4),
        init_cfg: Optional[dict] = None,
        **kwargs,
    ):
        super().__init__(
            in_channels,
            channels,
            in_index=list(in_index),
            input_transform='multiple_select',
            init_cfg=init_cfg,
            **kwargs,
        )
        cfg = dict(
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg,
        )
        self.bottom = ConvModule(
            in_channels[-1], in_channels[-1], 3, padding=1, **cfg
        )
        skips = list(in_channels[-2::-1])
        self.blocks = nn.ModuleList()
        in_ch = in_channels[-1]
        for i, out_ch in enumerate(decoder_channels):
            skip_ch = skips[i] if i < len(skips) else 0
            self.blocks.append(DecoderBlock(in_ch, skip_ch, out_ch, **cfg))
            in_ch = out_ch
        self.up = nn.ConvTranspose2d(in_ch, channels, 2, 2)
        self.conv_seg = nn.Conv2d(channels, self.out_channels, 3, padding=1)
        self.torch_default_init()

    def forward(self, inputs: List[Tensor]) -> Tensor:
        feats = self._transform_inputs(inputs)
        x = self.bottom(feats[-1])
        skips = feats[-2::-1]
        for i, block in enumerate(self.blocks):
            x = block(x, skips[i] if i < len(skips) else None)
        return self.cls_seg(self.up(x))

    @staticmethod
    def _crop(seg_logits: Tensor, size: Sequence[int]) -> Tensor:
        return seg_logits[..., : size[0], : size[1]]

    def loss_by_feat(
        self, seg_logits: Tensor, batch_data_samples: SampleList
    ) -> dict:
        size = batch_data_samples[0].gt_sem_seg.data.shape[-2:]
        return super().loss_by_feat(
            self._crop(seg_logits, size), batch_data_samples
        )

    def predict_by_feat(
        self, seg_logits: Tensor, batch_img_metas: List[dict]
    ) -> Tensor:
        meta = batch_img_metas[0]
        size = (
            meta['img_shape']
            if isinstance(meta['img_shape'], torch.Size)
            else meta.get('pad_shape', meta['img_shape'])[:2]
        )
        return super().predict_by_feat(
            self._crop(seg_logits, size), batch_img_metas
        )
