"""DCNv2 conv layer (``DeformConvV2``) with selectable back-ends.

Drop-in for mmcv's ``ModulatedDeformConv2dPack`` (registered as ``DCNv2``):
same arguments, same state-dict keys (``weight``, ``bias``,
``conv_offset.weight``, ``conv_offset.bias``), same offset layout and
initialisation, so checkpoints move between the two unchanged. It is
registered in mmengine's root ``MODELS``, where ``mmcv.cnn.build_conv_layer``
finds it with or without a default scope::

    build_conv_layer(dict(type='DeformConvV2'), 256, 256, 3, padding=1)
    # in mmseg's ResNet:
    dcn=dict(type='DeformConvV2', deform_groups=1, fallback_on_stride=False)
"""

import functools
import math
from typing import Callable, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.registry import MODELS
from torch import Tensor
from torch.nn.modules.utils import _pair, _single

from .deform_conv_torch import IntPair, modulated_deform_conv2d_torch

BACKENDS = ('auto', 'torch', 'mmcv', 'torchvision')


@functools.lru_cache(None)
def _mmcv_op() -> Tuple[Optional[Callable], bool]:
    """mmcv's compiled op (or None) and whether it was built with CUDA."""
    try:
        from mmcv.ops import (
            get_compiling_cuda_version,
            modulated_deform_conv2d,
        )
    except (ImportError, OSError):
        return None, False
    return (
        modulated_deform_conv2d,
        get_compiling_cuda_version() != 'not available',
    )


@functools.lru_cache(None)
def _torchvision_op() -> Optional[Callable]:
    try:
        from torchvision.ops import deform_conv2d
    except (ImportError, OSError, RuntimeError):
        return None
    return deform_conv2d


def _available(backend: str, device: torch.device) -> Optional[str]:
    """None if ``backend`` can run on ``device``, else the reason."""
    if backend == 'mmcv':
        op, with_cuda = _mmcv_op()
        if op is None:
            return 'mmcv.ops (the compiled mmcv extension) cannot be imported'
        if device.type == 'cuda' and not with_cuda:
            return 'mmcv was compiled without CUDA ops'
        if device.type not in ('cpu', 'cuda'):
            return f'its use on {device.type} is not supported here'
    elif backend == 'torchvision':
        if _torchvision_op() is None:
            return 'torchvision.ops cannot be imported'
        if device.type not in ('cpu', 'cuda'):
            return f'its use on {device.type} is not supported here'
    return None


def resolve_backend(backend: str, device: torch.device) -> str:
    """The back-end that runs for ``backend`` on ``device``.

    ``auto``: mmcv's compiled op on CUDA, then torchvision; the pure-PyTorch
    kernel on CPU (the fastest there, see docs/dcn.md), on other devices and
    whenever the graph is traced or exported to ONNX.
    """
    if backend not in BACKENDS:
        raise ValueError(
            f'DCNv2 backend must be one of {BACKENDS}, got {backend!r}'
        )
    if backend != 'auto':
        reason = _available(backend, device)
        if reason is not None:
            raise RuntimeError(
                f'DCNv2 backend {backend!r} is unavailable on '
                f'{device}: {reason}; use backend="torch" '
                f'(pure PyTorch, any device) or "auto"'
            )
        return backend
    if (
        device.type == 'cuda'
        and not torch.jit.is_tracing()
        and not torch.onnx.is_in_onnx_export()
    ):
        for name in ('mmcv', 'torchvision'):
            if _available(name, device) is None:
                return name
    return 'torch'


def modulated_deform_conv2d(
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
    backend: str = 'auto',
) -> Tensor:
    """DCNv2 on the chosen back-end; arguments as in
    ``mmcv.ops.modulated_deform_conv2d``, shapes in
    :func:`modulated_deform_conv2d_torch`.

    Under autocast the mmcv and torchvision back-ends run in float32 (their
    kernels are not autocast-aware); the torch back-end samples in float32
    and multiplies in the autocast dtype.
    """
    backend = resolve_backend(backend, input.device)
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    if backend == 'torch' or (
        not torch.jit.is_tracing() and input.shape[0] == 0
    ):  # compiled ops fail
        # on an empty batch; the torch path returns an empty result
        return modulated_deform_conv2d_torch(
            input,
            offset,
            mask,
            weight,
            bias,
            stride,
            padding,
            dilation,
            groups,
            deform_groups,
        )
    if torch.is_autocast_enabled(input.device.type):
        with torch.autocast(input.device.type, enabled=False):
            cast = [
                None if t is None else t.float()
                for t in (input, offset, mask, weight, bias)
            ]
            return modulated_deform_conv2d(
                *cast,
                stride,
                padding,
                dilation,
                groups,
                deform_groups,
                backend,
            )
    if backend == 'mmcv':
        return _mmcv_op()[0](
            input,
            offset,
            mask,
            weight,
            bias,
            stride,
            padding,
            dilation,
            groups,
            deform_groups,
        )
    return _torchvision_op()(
        input,
        offset.to(input.dtype),
        weight.to(input.dtype),
        None if bias is None else bias.to(input.dtype),
        stride=stride,
        padding=padding,
        dilation=dilation,
        mask=mask.to(input.dtype),
    )


@MODELS.register_module()
class DeformConvV2(nn.Module):
    """Modulated deformable convolution v2 that predicts its own offsets.

    ``conv_offset`` (a conv with this layer's geometry, initialised to zero)
    yields ``3 * deform_groups * kh * kw`` channels: the first two thirds are
    the (dy, dx) offsets interleaved per tap, the last third goes through a
    sigmoid into the modulation mask.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation,
            groups, bias: as in ``nn.Conv2d``.
        deform_groups (int): channel groups with their own offsets.
        backend (str): ``'auto'`` | ``'torch'`` | ``'mmcv'`` |
            ``'torchvision'``, see :func:`resolve_backend`.

    Shapes: (B, in_channels, H, W) -> (B, out_channels, Ho, Wo).
    """

    _version = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Union[int, Tuple[int, int]],
        stride: Union[int, Tuple[int, int]] = 1,
        padding: Union[int, Tuple[int, int]] = 0,
        dilation: Union[int, Tuple[int, int]] = 1,
        groups: int = 1,
        deform_groups: int = 1,
        bias: bool = True,
        backend: str = 'auto',
    ):
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(
                f'DeformConvV2 backend must be one of '
                f'{BACKENDS}, got {backend!r}'
            )
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f'DeformConvV2 channels {in_channels} -> '
                f'{out_channels} not divisible by groups={groups}'
            )
        if in_channels % deform_groups:
            raise ValueError(
                f'DeformConvV2 in_channels {in_channels} not '
                f'divisible by deform_groups={deform_groups}'
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.dilation = _pair(dilation)
        self.groups = groups
        self.deform_groups = deform_groups
        self.backend = backend
        # attributes nn.Conv2d users (and mmcv's ConvModule) look at
        self.transposed = False
        self.output_padding = _single(0)

        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels // groups, *self.kernel_size)
        )
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter('bias', None)
        self.conv_offset = nn.Conv2d(
            in_channels,
            deform_groups * 3 * self.kernel_size[0] * self.kernel_size[1],
            kernel_size=self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            bias=True,
        )
        self.init_weights()

    def init_weights(self) -> None:
        """mmcv's initialisation: uniform(+-1/sqrt(fan_in)) weight, zero bias
        and a zero offset branch (the layer starts as a plain conv with a
        0.5 mask). mmengine calls it after a parent's ``init_cfg``."""
        stdv = 1.0 / math.sqrt(
            self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        )
        nn.init.uniform_(self.weight, -stdv, stdv)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv_offset(x)
        o1, o2, mask = torch.chunk(out, 3, dim=1)
        offset = torch.cat((o1, o2), dim=1)
        return modulated_deform_conv2d(
            x,
            offset,
            torch.sigmoid(mask),
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self.deform_groups,
            self.backend,
        )

    def extra_repr(self) -> str:
        s = (
            f'{self.in_channels}, {self.out_channels}, '
            f'kernel_size={self.kernel_size}, stride={self.stride}, '
            f'padding={self.padding}, dilation={self.dilation}'
        )
        if self.groups != 1:
            s += f', groups={self.groups}'
        if self.deform_groups != 1:
            s += f', deform_groups={self.deform_groups}'
        if self.bias is None:
            s += ', bias=False'
        return s + f', backend={self.backend!r}'
