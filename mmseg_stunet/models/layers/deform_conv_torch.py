"""Modulated deformable convolution (DCNv2) in plain PyTorch.

Same semantics as ``mmcv.ops.modulated_deform_conv2d``: offsets are
``(B, 2 * deform_groups * kh * kw, Ho, Wo)`` with (dy, dx) interleaved per
kernel tap, masks are ``(B, deform_groups * kh * kw, Ho, Wo)`` and points
outside the input map read zero.

The input is laid out channels-last as a table of rows ``(B * H * W *
deform_groups, C / deform_groups)``. Every sampling point reads four rows
(its bilinear corners) with weights ``bilinear * mask``, so the column buffer
``(B * Ho * Wo, kh * kw * C)`` is one weighted row gather
(``embedding_bag``), and the convolution is one product with the weight (a
1x1 convolution on the channels-last buffer). The backward pass of the gather
is hand-written: the input gradient is a sparse (CSR) matrix product that
scatters the column gradient back onto the rows, the gradient of the corner
weights a row-wise dot product; no tensor holds a copy of the map per tap.

Under tracing, ONNX export or ``torch.compile`` the same gather runs as
differentiable ``index_select`` ops instead. Half-precision inputs are
sampled in float32 (on either path). Under autocast the sampling stays
float32 and the weight product (and the offset conv of the layer) run in
the autocast dtype.
"""

import warnings
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable
from torch.nn.modules.utils import _pair

IntPair = Union[int, Tuple[int, int]]


def deform_conv_output_size(
    in_size: Tuple[int, int],
    kernel_size: IntPair,
    stride: IntPair,
    padding: IntPair,
    dilation: IntPair,
) -> Tuple[int, int]:
    """Output (Ho, Wo) of a convolution on a map of size ``in_size``."""
    return tuple(
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, s, p, d in zip(
            in_size,
            _pair(kernel_size),
            _pair(stride),
            _pair(padding),
            _pair(dilation),
        )
    )


def _bilinear_taps(
    offset: Tensor,
    mask: Tensor,
    in_size: Tuple[int, int],
    kernel_size: Tuple[int, int],
    stride: Tuple[int, int],
    padding: Tuple[int, int],
    dilation: Tuple[int, int],
    deform_groups: int,
) -> Tuple[Tensor, Tensor]:
    """Rows and weights of the four bilinear corners of every sample.

    Returns ``index`` (int64) and ``weight``, both ``(N, 4)`` with
    ``N = B * Ho * Wo * kh * kw * deform_groups`` ordered
    (b, ho, wo, tap, group); ``index`` addresses rows of the channels-last
    table ``(B * H * W * deform_groups, C / deform_groups)``. Corners outside
    the map get weight 0 and a clamped, valid row. Few, large ops: this runs
    on every call.
    """
    B, _, Ho, Wo = offset.shape
    H, W = in_size
    kh, kw = kernel_size
    K, G = kh * kw, deform_groups
    dev = offset.device
    # (B, Ho, Wo, K, G, 2) with (y, x) last, and (N, 1)
    off = offset.view(B, G, K, 2, Ho, Wo).permute(0, 4, 5, 2, 1, 3)
    mask = mask.view(B, G, K, Ho, Wo).permute(0, 3, 4, 2, 1).reshape(-1, 1)
    ho = torch.arange(Ho, device=dev) * stride[0] - padding[0]
    wo = torch.arange(Wo, device=dev) * stride[1] - padding[1]
    ty = torch.arange(kh, device=dev).repeat_interleave(kw) * dilation[0]
    tx = torch.arange(kw, device=dev).repeat(kh) * dilation[1]
    base = torch.stack(
        torch.broadcast_tensors(
            ho.view(Ho, 1, 1) + ty.view(1, 1, K),
            wo.view(1, Wo, 1) + tx.view(1, 1, K),
        ),
        -1,
    ).view(Ho, Wo, K, 1, 2)
    # Same rounding as mmcv (integer base + offset in one addition).
    # Clamping keeps far-away points (all corners outside) in int range.
    p = off + base.to(off.dtype)
    if isinstance(H, Tensor):
        # Traced (jit.trace, ONNX export): the sizes are 0-dim tensors that
        # the tracer records; build everything that depends on them with
        # tensor ops, or the traced size would be frozen into the graph.
        size = torch.stack((H, W)).to(dev)
        p = torch.minimum(p.clamp(min=-2), (torch.maximum(H, W) + 1).to(p))
    else:
        size = torch.tensor([H, W], device=dev)
        p = p.clamp(-2, max(H, W) + 1)
    p = p.reshape(-1, 1, 2)
    p0 = p.detach().floor()
    frac = p - p0
    # corner c = 0, 1 along each coordinate: (N, 2, 2) as [n, c, y/x]
    corner = p0.long() + torch.arange(2, device=dev).view(1, 2, 1)
    inside = (corner >= 0) & (corner < size)
    w = torch.cat((1 - frac, frac), 1) * inside
    # mmcv samples only -1 < p < size: this zeroes the (one-sided) offset
    # gradient of points exactly on -1, e.g. the padding taps at zero offset
    mask = mask * ((p > -1) & (p < size)).all(2)
    weight = (w[:, :, 0] * mask).unsqueeze(2) * w[:, None, :, 1]

    corner = torch.minimum(corner.clamp_(min=0), size - 1).view(B, -1, 2, 2)
    row_y = corner[..., 0] + torch.arange(B, device=dev).view(B, 1, 1) * H
    index = (row_y.unsqueeze(3) * W + corner[..., None, :, 1]).view(-1, 4)
    if G > 1:
        index = (
            index.view(-1, G, 4) * G
            + torch.arange(G, device=dev).view(1, G, 1)
        ).view(-1, 4)
    return index, weight.view(-1, 4)


class _WeightedRowGather(torch.autograd.Function):
    """``out[n] = sum_j weight[n, j] * table[index[n, j]]``, shape (N, C)."""

    @staticmethod
    def forward(ctx, table: Tensor, index: Tensor, weight: Tensor) -> Tensor:
        flat = index.reshape(-1)
        bags = torch.arange(
            0, flat.numel(), index.shape[1], device=flat.device
        )
        out = torch.ops.aten._embedding_bag_forward_only(
            table, flat, bags, False, 0, False, weight.reshape(-1), False, -1
        )[0]
        ctx.save_for_backward(table, index, weight, bags)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        table, index, weight, bags = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        grad_table = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_table = _scatter_rows(grad_out, index, weight, table.shape[0])
        if ctx.needs_input_grad[2]:
            flat = index.reshape(-1)
            bag_of = (
                torch.arange(flat.numel(), device=flat.device)
                // index.shape[1]
            )
            grad_weight = (
                torch.ops.aten._embedding_bag_per_sample_weights_backward(
                    grad_out, table, flat, bags, bag_of, 0, -1
                ).view_as(weight)
            )
        return grad_table, None, grad_weight


def _scatter_rows(
    src: Tensor, index: Tensor, weight: Tensor, num_rows: int
) -> Tensor:
    """Transpose of the weighted gather: ``(num_rows, C)``.

    Sorting the (N * 4) targets turns the scatter-add into a CSR matrix
    ``(num_rows, N)`` times ``src`` -- a parallel, deterministic kernel.
    """
    flat = index.reshape(-1)
    if num_rows < 2**31:  # int32 keys sort about twice as fast
        flat = flat.to(torch.int32)
    rows, order = torch.sort(flat)
    counts = torch.bincount(rows, minlength=num_rows)
    crow = torch.zeros(num_rows + 1, dtype=torch.int64, device=rows.device)
    torch.cumsum(counts, 0, out=crow[1:])
    cols = torch.div(order, index.shape[1], rounding_mode='floor')
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter('ignore', UserWarning)
        matrix = torch.sparse_csr_tensor(
            crow,
            cols,
            weight.reshape(-1)[order],
            size=(num_rows, src.shape[0]),
            check_invariants=False,
        )
        return matrix @ src


def _use_fused() -> bool:
    """The hand-written gather in eager mode; traced, exported and
    compiled graphs use differentiable ``index_select``."""
    return (
        not torch.jit.is_tracing()
        and not torch.jit.is_scripting()
        and not torch.onnx.is_in_onnx_export()
        and not torch.compiler.is_compiling()
    )


def _check_shapes(
    input: Tensor,
    offset: Tensor,
    mask: Tensor,
    weight: Tensor,
    groups: int,
    deform_groups: int,
    out_size: Tuple[int, int],
    stride: Tuple[int, int],
    padding: Tuple[int, int],
    dilation: Tuple[int, int],
) -> None:
    """Raise ``ValueError`` naming the argument whose shape does not fit."""
    B, C = input.shape[:2]
    C_out, C_g, kh, kw = weight.shape
    K = kh * kw
    Ho, Wo = out_size
    if Ho <= 0 or Wo <= 0:
        raise ValueError(
            f'DCNv2 input of shape {tuple(input.shape)} is too '
            f'small for kernel {(kh, kw)}, padding {padding}, '
            f'dilation {dilation}'
        )
    if C_g * groups != C or C_out % groups:
        raise ValueError(
            f'DCNv2 weight {tuple(weight.shape)} does not fit '
            f'{C} input channels with groups={groups}'
        )
    if C % deform_groups:
        raise ValueError(
            f'DCNv2 input channels {C} not divisible by '
            f'deform_groups={deform_groups}'
        )
    if tuple(offset.shape) != (B, 2 * deform_groups * K, Ho, Wo):
        raise ValueError(
            f'DCNv2 offset must have shape '
            f'{(B, 2 * deform_groups * K, Ho, Wo)}, got '
            f'{tuple(offset.shape)}'
        )
    if tuple(mask.shape) != (B, deform_groups * K, Ho, Wo):
        raise ValueError(
            f'DCNv2 mask must have shape '
            f'{(B, deform_groups * K, Ho, Wo)}, got '
            f'{tuple(mask.shape)}'
        )


def modulated_deform_conv2d_torch(
    input: Tensor,
    offset: Tensor,
    mask: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
    deform_groups: int = 1,
) -> Tensor:
    """DCNv2 with the signature of ``mmcv.ops.modulated_deform_conv2d``.

    Args:
        input: (B, C, H, W).
        offset: (B, 2 * deform_groups * kh * kw, Ho, Wo), (dy, dx) per tap.
        mask: (B, deform_groups * kh * kw, Ho, Wo), typically in [0, 1].
        weight: (C_out, C / groups, kh, kw). bias: (C_out,) or None.

    Returns:
        (B, C_out, Ho, Wo), in the memory format of ``input`` (contiguous or
        channels-last). Under autocast the sampling runs in float32 and the
        weight product in the autocast dtype.
    """
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    if input.dim() != 4:
        raise ValueError(
            f'DCNv2 input must be (B, C, H, W), got shape {tuple(input.shape)}'
        )
    B, C, H, W = input.shape
    C_out, C_g, kh, kw = weight.shape
    K = kh * kw
    Ho, Wo = deform_conv_output_size(
        (H, W), (kh, kw), stride, padding, dilation
    )
    if not torch.jit.is_tracing():  # checked in eager mode; sizes are
        # tensors while traced and Python checks would freeze them
        _check_shapes(
            input,
            offset,
            mask,
            weight,
            groups,
            deform_groups,
            (Ho, Wo),
            stride,
            padding,
            dilation,
        )
        if B == 0:
            # nothing to sample: an empty result that still connects every
            # input to autograd (zero gradients), as nn.Conv2d's does
            out = F.conv2d(
                input, weight, bias, stride, padding, dilation, groups
            )
            return out + (offset.sum() + mask.sum()).to(out.dtype) * 0

    out_dtype = input.dtype
    channels_last = (
        input.is_contiguous(memory_format=torch.channels_last)
        and not input.is_contiguous()
    )
    # Sample in the input's precision, at least float32 (offsets coming
    # out of an autocast conv are half precision).
    dtype = torch.promote_types(input.dtype, torch.float32)
    input, offset, mask = input.to(dtype), offset.to(dtype), mask.to(dtype)
    fused = _use_fused()
    index, tap_weight = _bilinear_taps(
        offset,
        mask,
        (H, W),
        (kh, kw),
        stride,
        padding,
        dilation,
        deform_groups,
    )
    table = input.permute(0, 2, 3, 1).reshape(
        B * H * W * deform_groups, C // deform_groups
    )
    if fused:
        with torch.autocast(input.device.type, enabled=False):
            cols = _WeightedRowGather.apply(table, index, tap_weight)
    else:
        taps = [
            table.index_select(0, index[:, j]) * tap_weight[:, j, None]
            for j in range(4)
        ]
        cols = taps[0] + taps[1] + taps[2] + taps[3]
    if not torch.is_autocast_enabled(cols.device.type):
        # like mmcv: the weight follows the input's dtype
        cols = cols.to(out_dtype)
        weight = weight.to(out_dtype)
        bias = None if bias is None else bias.to(out_dtype)
    # The columns are a channels-last (B, K * C, Ho, Wo) map: the weight
    # product is a 1x1 convolution (oneDNN's kernel beats a plain GEMM here).
    cols = cols.view(B, Ho, Wo, K, C)
    if groups > 1:  # channels (group, tap, channel in group)
        cols = cols.view(B, Ho, Wo, K, groups, C_g).transpose(3, 4)
    cols = cols.reshape(B, Ho, Wo, K * C).permute(0, 3, 1, 2)
    weight = weight.permute(0, 2, 3, 1).reshape(C_out, K * C_g, 1, 1)
    out = F.conv2d(cols, weight, bias, groups=groups)
    return out.contiguous(
        memory_format=torch.channels_last
        if channels_last
        else torch.contiguous_format
    )
