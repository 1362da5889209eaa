"""Swin branch of ST-UNet: Swin blocks with a SIM per block pair and FCMs.

Blocks are MMSegmentation's ``SwinBlock`` (windows padded for any map size)
built with :class:`AdaptiveShiftWindowMSA`: fused scaled-dot-product window
attention, the original Swin's window rule for small maps (which mmseg's
``SwinBlock`` lacks) and sizes that survive tracing. Parameter names follow
mmseg / mmpretrain (``stages.i.blocks.j.attn.w_msa``), so Swin checkpoints
map onto this branch.
"""

from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.transformer import FFN, build_dropout
from mmengine.model import BaseModule
from mmseg.models.backbones.swin import SwinBlock, WindowMSA
from mmseg.models.utils import PatchEmbed
from torch import Tensor, nn

from ..utils.fcm import FeatureCompressionModule
from ..utils.sim import SpatialInteractionModule

#: a size: a Python int in eager mode, a 0-dim tensor while traced
Size = Union[int, Tensor]


class FusedWindowMSA(WindowMSA):
    """mmseg's ``WindowMSA`` with fused scaled-dot-product attention and
    windows smaller than its bias table.

    Same parameters and, at its own window, the same result; the
    relative-position bias (and the shift mask) are passed as the additive
    attention mask. A window ``w`` smaller than the table's ``window_size``
    reads the biases of its offsets ``(dy, dx)`` in ``[-(w-1), w-1]`` from the
    same table (the window rule of :class:`AdaptiveShiftWindowMSA`).

    Shapes: (num_windows*B, w*w, C) -> (num_windows*B, w*w, C).
    """

    def relative_position_bias(self, window: Size) -> Tensor:
        """(num_heads, w*w, w*w) bias of a ``window`` x ``window`` window.

        index(i, j) = (y_i - y_j + Wh - 1) * (2 Ww - 1) + (x_i - x_j + Ww - 1),
        the layout of the table (mmseg's and the original Swin's).
        """
        Wh, Ww = self.window_size
        table = self.relative_position_bias_table
        if isinstance(window, int) and window == Wh == Ww:
            index = self.relative_position_index
        else:
            c = torch.arange(window, device=table.device)
            zero = c * 0
            ys = (c[:, None] + zero[None, :]).reshape(-1)
            xs = (zero[:, None] + c[None, :]).reshape(-1)
            index = (
                (ys[:, None] - ys[None, :] + Wh - 1) * (2 * Ww - 1)
                + xs[:, None]
                - xs[None, :]
                + Ww
                - 1
            )
        n = index.shape[0]
        return table[index.reshape(-1)].view(n, n, -1).permute(2, 0, 1)

    def forward(
        self,
        x: Tensor,
        mask: Optional[Tensor] = None,
        window: Optional[Size] = None,
    ) -> Tensor:
        """``mask``: (num_windows, N, N) additive; ``window``: the side of the
        windows in ``x`` (default: the table's window)."""
        B, N, C = x.shape
        qkv = (
            self.qkv(x)
            .reshape(B, N, 3, self.num_heads, C // self.num_heads)
            .permute(2, 0, 3, 1, 4)
        )
        q, k, v = qkv.unbind(0)
        bias = self.relative_position_bias(
            self.window_size[0] if window is None else window
        ).unsqueeze(0)
        if mask is not None:
            nW = mask.shape[0]
            bias = (bias + mask.unsqueeze(1)).repeat(B // nW, 1, 1, 1)
        x = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=bias.to(q.dtype),
            dropout_p=self.attn_drop.p if self.training else 0.0,
            scale=self.scale,
        )
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


class AdaptiveShiftWindowMSA(BaseModule):
    """(Shifted-)window attention with the original Swin's window rule.

    Windows of ``window_size`` (shifted by ``shift_size`` in SW-MSA blocks)
    on maps padded to whole windows, as mmseg's ``ShiftWindowMSA`` (same
    parameters, state-dict keys and, on maps larger than the window, the
    same result). On a map not larger than the window (``min(h, w) <=
    window_size``) the window is ``min(h, w)`` and nothing is shifted, as in
    the original Swin and the ST-UNet authors' code: at 256x256 input, stage
    4 (8x8) attends over the whole map in both blocks. The rule is decided
    from the map size on every call.

    Traced (``jit.trace``, ONNX export), the sizes are 0-dim tensors: the
    padding, the window, the shift, the shift mask and the bias index are
    computed with tensor operations, so a graph exported with dynamic height
    and width applies the rule at whatever size it runs.

    Shapes: (B, H*W, C), hw_shape (H, W) -> (B, H*W, C).
    """

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        window_size: int,
        shift_size: int = 0,
        qkv_bias: bool = True,
        qk_scale: Optional[float] = None,
        attn_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        dropout_layer: dict = dict(type='DropPath', drop_prob=0.0),
        init_cfg: Optional[dict] = None,
    ):
        super().__init__(init_cfg)
        if not 0 <= shift_size < window_size:
            raise ValueError(
                f'{type(self).__name__}: need 0 <= shift_size < '
                f'window_size, got {shift_size}, {window_size}'
            )
        self.window_size = window_size
        self.shift_size = shift_size
        self.w_msa = FusedWindowMSA(
            embed_dims=embed_dims,
            num_heads=num_heads,
            window_size=(window_size, window_size),
            qkv_bias=qkv_bias,
            qk_scale=qk_scale,
            attn_drop_rate=attn_drop_rate,
            proj_drop_rate=proj_drop_rate,
        )
        self.drop = build_dropout(dropout_layer)

    def window_and_shift(self, H: Size, W: Size) -> Tuple[Size, Size]:
        """The window side and shift used on an H x W map."""
        ws, shift = self.window_size, self.shift_size
        if isinstance(H, Tensor) or isinstance(W, Tensor):
            small = torch.minimum(_as_tensor(H), _as_tensor(W))
            big = small > ws
            return torch.where(big, ws, small), big.long() * shift
        if min(H, W) <= ws:
            return min(H, W), 0
        return ws, shift

    def forward(self, query: Tensor, hw_shape: Tuple[Size, Size]) -> Tensor:
        B, L, C = query.shape
        H, W = hw_shape
        traced = isinstance(H, Tensor) or isinstance(W, Tensor)
        ws, shift = self.window_and_shift(H, W)
        query = query.view(B, H, W, C)
        pad_r = (ws - W % ws) % ws
        pad_b = (ws - H % ws) % ws
        query = F.pad(query, (0, 0, 0, pad_r, 0, pad_b))
        H_pad, W_pad = query.shape[1], query.shape[2]
        mask = None
        if traced or shift > 0:
            query = _roll(query, -shift, H_pad, W_pad)
            mask = shift_mask(H_pad, W_pad, ws, shift, query.device)
        windows = window_partition(query, ws).reshape(-1, ws * ws, C)
        if isinstance(ws, int) and ws == self.window_size:
            windows = self.w_msa(windows, mask=mask)
        else:  # the rule's smaller window, or traced
            windows = self.w_msa(windows, mask=mask, window=ws)
        x = window_reverse(windows.reshape(-1, ws, ws, C), H_pad, W_pad)
        if traced or shift > 0:
            x = _roll(x, shift, H_pad, W_pad)
        if traced or pad_r > 0 or pad_b > 0:
            x = x[:, :H, :W, :].contiguous()
        return self.drop(x.view(B, H * W, C))


def _as_tensor(size: Size) -> Tensor:
    return size if isinstance(size, Tensor) else torch.tensor(size)


def _roll(x: Tensor, shift: Size, H: Size, W: Size) -> Tensor:
    """``torch.roll`` of (B, H, W, C) by ``shift`` along H and W; while
    traced, a gather whose indices follow the traced sizes and shift."""
    if not isinstance(shift, Tensor):
        return torch.roll(x, shifts=(shift, shift), dims=(1, 2))
    rows = (torch.arange(H, device=x.device) - shift) % H
    cols = (torch.arange(W, device=x.device) - shift) % W
    return x.index_select(1, rows).index_select(2, cols)


def shift_mask(
    H: Size, W: Size, window: Size, shift: Size, device: torch.device
) -> Tensor:
    """(nW, ws*ws, ws*ws) additive mask, 0 or -100, of mmseg's SW-MSA on a
    padded H x W map.

    Regions along each axis: [0, n - ws), [n - ws, n - shift),
    [n - shift, n); region id = 3 * row region + column region. With
    ``shift = 0`` every window lies in one region: the mask is zero.
    """

    def regions(n: Size) -> Tensor:
        idx = torch.arange(n, device=device)
        return (idx >= n - window).long() + (idx >= n - shift).long()

    img = (regions(H)[:, None] * 3 + regions(W)[None, :]).float()
    windows = (
        img.view(H // window, window, W // window, window)
        .permute(0, 2, 1, 3)
        .reshape(-1, window * window)
    )
    mask = windows.unsqueeze(1) - windows.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0)


def window_partition(x: Tensor, window: Size) -> Tensor:
    """(B, H, W, C) -> (nW*B, ws, ws, C), H and W multiples of ``window``."""
    B, H, W, C = x.shape
    x = x.view(B, H // window, window, W // window, window, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window, window, C)


def window_reverse(windows: Tensor, H: Size, W: Size) -> Tensor:
    """(nW*B, ws, ws, C) -> (B, H, W, C)."""
    ws, C = windows.shape[1], windows.shape[-1]
    x = windows.view(-1, H // ws, W // ws, ws, ws, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, H, W, C)


class STUNetSwinBlock(SwinBlock):
    """mmseg's ``SwinBlock`` whose attention is
    :class:`AdaptiveShiftWindowMSA`.

    Same arguments, parameters and ``forward`` (pre-norm attention and FFN
    with residuals and stochastic depth); built directly, so no
    ``ShiftWindowMSA`` is constructed and thrown away.
    """

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        feedforward_channels: int,
        window_size: int = 7,
        shift: bool = False,
        qkv_bias: bool = True,
        qk_scale: Optional[float] = None,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        act_cfg: dict = dict(type='GELU'),
        norm_cfg: dict = dict(type='LN'),
        with_cp: bool = False,
        init_cfg: Optional[dict] = None,
    ):
        # SwinBlock.__init__ would build mmseg's ShiftWindowMSA
        BaseModule.__init__(self, init_cfg=init_cfg)
        self.with_cp = with_cp
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = AdaptiveShiftWindowMSA(
            embed_dims=embed_dims,
            num_heads=num_heads,
            window_size=window_size,
            shift_size=window_size // 2 if shift else 0,
            qkv_bias=qkv_bias,
            qk_scale=qk_scale,
            attn_drop_rate=attn_drop_rate,
            proj_drop_rate=drop_rate,
            dropout_layer=dict(type='DropPath', drop_prob=drop_path_rate),
        )
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(
            embed_dims=embed_dims,
            feedforward_channels=feedforward_channels,
            num_fcs=2,
            ffn_drop=drop_rate,
            dropout_layer=dict(type='DropPath', drop_prob=drop_path_rate),
            act_cfg=act_cfg,
            add_identity=True,
            init_cfg=None,
        )


def tokens_to_map(x: Tensor, hw: Tuple[Size, Size]) -> Tensor:
    """(B, h*w, C) -> (B, C, h, w), a channels-last view (no copy)."""
    B, _, C = x.shape
    return x.view(B, hw[0], hw[1], C).permute(0, 3, 1, 2)


def map_to_tokens(x: Tensor) -> Tensor:
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

    def __init__(
        self,
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
        sim_clip_z: Optional[float] = 20.0,
        init_cfg: Optional[dict] = None,
    ):
        super().__init__(init_cfg)
        if depth % 2:
            raise ValueError(
                f'SwinStage: depth must be even (blocks come in '
                f'W-MSA/SW-MSA pairs with one SIM), got {depth}'
            )
        self.blocks = nn.ModuleList(
            [
                STUNetSwinBlock(
                    embed_dims=embed_dims,
                    num_heads=num_heads,
                    feedforward_channels=int(mlp_ratio * embed_dims),
                    window_size=window_size,
                    shift=i % 2 == 1,
                    qkv_bias=qkv_bias,
                    drop_path_rate=drop_path_rates[i],
                )
                for i in range(depth)
            ]
        )
        self.sims = nn.ModuleList(
            [
                SpatialInteractionModule(
                    embed_dims, norm_cfg, act_cfg, sim_clip_z
                )
                for _ in range(depth // 2)
            ]
        )
        self.fcm = (
            FeatureCompressionModule(
                embed_dims, 2 * embed_dims, norm_cfg, act_cfg
            )
            if with_fcm
            else None
        )

    def forward(
        self, x: Tensor, hw: Tuple[Size, Size]
    ) -> Tuple[Tensor, Optional[Tensor]]:
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
        sim_clip_z (float, optional): eval-mode bound of the SIMs'
            standardised product (``SpatialInteractionModule.clip_z``).
            Default: 20.

    Shapes: (B, in, H, W) -> [T_i (B, C*2^i, ceil(H/2^(i+2)), ...)], i=0..3.
    """

    def __init__(
        self,
        in_channels: int = 3,
        embed_dims: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: int = 8,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.1,
        norm_cfg: dict = dict(type='BN'),
        act_cfg: dict = dict(type='GELU'),
        sim_clip_z: Optional[float] = 20.0,
        init_cfg: Optional[dict] = None,
    ):
        super().__init__(init_cfg)
        if len(num_heads) != len(depths):
            raise ValueError(
                f'SwinBranch: num_heads {tuple(num_heads)} and '
                f'depths {tuple(depths)} differ in length'
            )
        for i, heads in enumerate(num_heads):
            if (embed_dims * 2**i) % heads:
                raise ValueError(
                    f'SwinBranch: stage {i} width {embed_dims * 2**i} '
                    f'(embed_dims={embed_dims} * 2^{i}) is not divisible by '
                    f'num_heads[{i}]={heads}'
                )
        # conv 8x8 / 4, padding 2, on an input padded to a multiple of 4
        self.patch_embed = PatchEmbed(
            in_channels,
            embed_dims,
            conv_type='Conv2d',
            kernel_size=8,
            stride=4,
            padding=2,
            norm_cfg=dict(type='LN'),
        )
        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = nn.ModuleList()
        self.out_channels: List[int] = []
        for i, depth in enumerate(depths):
            dims = embed_dims * 2**i
            self.stages.append(
                SwinStage(
                    dims,
                    depth,
                    num_heads[i],
                    window_size,
                    mlp_ratio,
                    qkv_bias,
                    dpr[sum(depths[:i]) : sum(depths[: i + 1])],
                    i < len(depths) - 1,
                    norm_cfg,
                    act_cfg,
                    sim_clip_z,
                )
            )
            self.out_channels.append(dims)

    def forward(self, x: Tensor) -> List[Tensor]:
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
