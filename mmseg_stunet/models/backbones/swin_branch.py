"""Swin branch of ST-UNet: Swin blocks with a SIM per block pair and FCMs.

Blocks are MMSegmentation's ``SwinBlock`` (windows padded for any map size)
with the window attention computed by ``F.scaled_dot_product_attention``;
parameter names follow mmseg / mmpretrain (``stages.i.blocks.j.attn.w_msa``),
so Swin checkpoints map onto this branch.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from mmseg.models.backbones.swin import (ShiftWindowMSA, SwinBlock,
                                         WindowMSA)
from mmseg.models.utils import PatchEmbed
from ..modules.fcm import FeatureCompressionModule
from ..modules.sim import SpatialInteractionModule


class FusedWindowMSA(WindowMSA):
    """mmseg's ``WindowMSA`` with fused scaled-dot-product attention.

    Same parameters and result; the relative-position bias (and the shift
    mask) are passed as the additive attention mask.
    Shapes: (num_windows*B, N, C) -> (num_windows*B, N, C).
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor = None):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads,
                                  C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        bias = self.relative_position_bias_table[
            self.relative_position_index.view(-1)].view(N, N, -1)
        bias = bias.permute(2, 0, 1).unsqueeze(0)  # (1, nH, N, N)
        if mask is not None:
            nW = mask.shape[0]
            bias = (bias + mask.unsqueeze(1)).repeat(B // nW, 1, 1, 1)
        x = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=bias.to(q.dtype),
            dropout_p=self.attn_drop.p if self.training else 0.,
            scale=self.scale)
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


class TraceableShiftWindowMSA(ShiftWindowMSA):
    """mmseg's ``ShiftWindowMSA`` whose sizes survive tracing.

    Same parameters and result in eager mode. mmseg's version builds the
    shift mask by slice assignment, skips the crop when nothing was padded
    and recovers the batch with ``int(...)``: the tracer (ONNX export)
    freezes all of that at the traced size. Here the window padding, the
    crop, the shift mask (from ``arange`` over the padded size) and the
    window merge use only shape arithmetic that the tracer records, so a
    model exported with dynamic H/W works at other sizes.
    Shapes: (B, H*W, C), hw_shape (H, W) -> (B, H*W, C).
    """

    def forward(self, query: torch.Tensor, hw_shape) -> torch.Tensor:
        B, L, C = query.shape
        H, W = hw_shape
        ws = self.window_size
        query = query.view(B, H, W, C)
        pad_r = (ws - W % ws) % ws
        pad_b = (ws - H % ws) % ws
        query = F.pad(query, (0, 0, 0, pad_r, 0, pad_b))
        H_pad, W_pad = query.shape[1], query.shape[2]
        if self.shift_size > 0:
            query = torch.roll(query,
                               shifts=(-self.shift_size, -self.shift_size),
                               dims=(1, 2))
            attn_mask = self.shift_mask(H_pad, W_pad, query.device)
        else:
            attn_mask = None
        windows = self.window_partition(query).view(-1, ws * ws, C)
        windows = self.w_msa(windows, mask=attn_mask).view(-1, ws, ws, C)
        x = self.window_reverse(windows, H_pad, W_pad)
        if self.shift_size > 0:
            x = torch.roll(x,
                           shifts=(self.shift_size, self.shift_size),
                           dims=(1, 2))
        if torch.jit.is_tracing() or pad_r > 0 or pad_b > 0:
            x = x[:, :H, :W, :].contiguous()
        return self.drop(x.view(B, H * W, C))

    def shift_mask(self, H_pad, W_pad, device) -> torch.Tensor:
        """(nW, ws*ws, ws*ws) additive mask, 0 or -100, of mmseg's SW-MSA.

        Regions along each axis: [0, n - ws), [n - ws, n - shift),
        [n - shift, n); region id = 3 * row region + column region.
        """
        ws, shift = self.window_size, self.shift_size

        def regions(n):
            idx = torch.arange(n, device=device)
            return (idx >= n - ws).long() + (idx >= n - shift).long()

        img = (regions(H_pad)[:, None] * 3 + regions(W_pad)[None, :]).float()
        windows = img.view(H_pad // ws, ws, W_pad // ws, ws).permute(
            0, 2, 1, 3).reshape(-1, ws * ws)
        mask = windows.unsqueeze(1) - windows.unsqueeze(2)
        return mask.masked_fill(mask != 0, -100.0)

    def window_reverse(self, windows, H, W):
        """(nW*B, ws, ws, C) -> (B, H, W, C)."""
        ws, C = self.window_size, windows.shape[-1]
        x = windows.view(-1, H // ws, W // ws, ws, ws, C)
        return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, H, W, C)


def tokens_to_map(x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
    """(B, h*w, C) -> (B, C, h, w), a channels-last view (no copy)."""
    B, _, C = x.shape
    return x.view(B, hw[0], hw[1], C).permute(0, 3, 1, 2)


def map_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) -> (B, h*w, C); no copy for a channels-last map."""
    B, C = x.shape[:2]
    return x.permute(0, 2, 3, 1).reshape(B, -1, C)


class SwinStage(BaseModule):
    """Swin blocks in (W-MSA, SW-MSA) pairs, each pair with a SIM.

    For pair k: ``s = SIM(tokens entering block 2k)``; after block 2k+1,
    ``tokens = tokens + s``. The stage output map T is taken before the FCM.

    Shapes: tokens (B, h*w, C) -> T (B, C, h, w) and the next stage's tokens
    (B, ceil(h/2)*ceil(w/2), 2C) (None for the last stage).
    """

    def __init__(self,
                 embed_dims: int,
                 depth: int,
                 num_heads: int,
                 window_size: int,
                 mlp_ratio: float,
                 qkv_bias: bool,
                 drop_path_rates: Sequence[float],
                 with_fcm: bool,
                 norm_cfg: dict,
                 act_cfg: dict,
                 init_cfg=None):
        super().__init__(init_cfg)
        if depth % 2:
            raise ValueError(f'SwinStage: depth must be even (blocks come in '
                             f'W-MSA/SW-MSA pairs with one SIM), got {depth}')
        self.blocks = nn.ModuleList()
        for i in range(depth):
            block = SwinBlock(embed_dims=embed_dims,
                              num_heads=num_heads,
                              feedforward_channels=int(mlp_ratio * embed_dims),
                              window_size=window_size,
                              shift=i % 2 == 1,
                              qkv_bias=qkv_bias,
                              drop_path_rate=drop_path_rates[i])
            block.attn = TraceableShiftWindowMSA(
                embed_dims,
                num_heads,
                window_size,
                shift_size=window_size // 2 if i % 2 else 0,
                qkv_bias=qkv_bias,
                dropout_layer=dict(type='DropPath',
                                   drop_prob=drop_path_rates[i]))
            block.attn.w_msa = FusedWindowMSA(embed_dims,
                                              num_heads,
                                              (window_size, window_size),
                                              qkv_bias=qkv_bias)
            self.blocks.append(block)
        self.sims = nn.ModuleList([
            SpatialInteractionModule(embed_dims, norm_cfg, act_cfg)
            for _ in range(depth // 2)
        ])
        self.fcm = FeatureCompressionModule(embed_dims, 2 *
                                            embed_dims, norm_cfg,
                                            act_cfg) if with_fcm else None

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]):
        for k, sim in enumerate(self.sims):
            s = map_to_tokens(sim(tokens_to_map(x, hw)))
            x = self.blocks[2 * k](x, hw)
            x = self.blocks[2 * k + 1](x, hw) + s
        t = tokens_to_map(x, hw)
        return t, None if self.fcm is None else self.fcm(t)


class SwinBranch(BaseModule):
    """Auxiliary encoder: patch embedding, then Swin stages joined by FCMs.

    Args:
        in_channels (int): input bands. Default: 3.
        embed_dims (int): C of the first stage; stage i has C*2^i. Default: 96.
        depths (Sequence[int]): blocks per stage (even). Default: (2, 2, 6, 2).
        num_heads (Sequence[int]): heads per stage. Default: (3, 6, 12, 24).
        window_size (int): attention window. Default: 8.
        mlp_ratio (float): FFN width / C. Default: 4.
        qkv_bias (bool): bias of the qkv projection. Default: True.
        drop_path_rate (float): stochastic depth of the last block, rising
            linearly from 0 over all blocks. Default: 0.1.
        norm_cfg (dict): norm of SIM and FCM convs. Default: BN.
        act_cfg (dict): activation of SIM and FCM. Default: GELU.

    Shapes: (B, in, H, W) -> [T_i (B, C*2^i, ceil(H/2^(i+2)), ...)], i=0..3.
    """

    def __init__(self,
                 in_channels: int = 3,
                 embed_dims: int = 96,
                 depths: Sequence[int] = (2, 2, 6, 2),
                 num_heads: Sequence[int] = (3, 6, 12, 24),
                 window_size: int = 8,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_path_rate: float = 0.1,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg=None):
        super().__init__(init_cfg)
        if len(num_heads) != len(depths):
            raise ValueError(f'SwinBranch: num_heads {tuple(num_heads)} and '
                             f'depths {tuple(depths)} differ in length')
        for i, heads in enumerate(num_heads):
            if (embed_dims * 2**i) % heads:
                raise ValueError(
                    f'SwinBranch: stage {i} width {embed_dims * 2**i} '
                    f'(embed_dims={embed_dims} * 2^{i}) is not divisible by '
                    f'num_heads[{i}]={heads}')
        # conv 8x8 / 4, padding 2, on an input padded to a multiple of 4
        self.patch_embed = PatchEmbed(in_channels,
                                      embed_dims,
                                      conv_type='Conv2d',
                                      kernel_size=8,
                                      stride=4,
                                      padding=2,
                                      norm_cfg=dict(type='LN'))
        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = nn.ModuleList()
        self.out_channels: List[int] = []
        for i, depth in enumerate(depths):
            dims = embed_dims * 2**i
            self.stages.append(
                SwinStage(dims, depth, num_heads[i], window_size, mlp_ratio,
                          qkv_bias, dpr[sum(depths[:i]):sum(depths[:i + 1])], i
                          < len(depths) - 1, norm_cfg, act_cfg))
            self.out_channels.append(dims)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        H, W = x.shape[2:]
        x = F.pad(x, (0, -W % 4, 0, -H % 4))
        x, hw = self.patch_embed(x)
        outs = []
        for stage in self.stages:
            t, nxt = stage(x, hw)
            outs.append(t)
            if nxt is not None:
                hw = tuple(nxt.shape[2:])
                x = map_to_tokens(nxt)
        return outs
