"""SoftPool (Stergiou et al., ICCV 2021) in plain PyTorch.

Each window is reduced to ``sum(x * softmax(x))`` over the window, i.e.
``sum(x * exp(x)) / sum(exp(x))``; no CUDA extension is needed.
"""

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import nn


def soft_pool2d(x: torch.Tensor, kernel_size: int = 2) -> torch.Tensor:
    """SoftPool over non-overlapping ``kernel_size`` windows.

    Args:
        x (Tensor): (B, C, H, W).
        kernel_size (int): window size, also the stride.

    Returns:
        Tensor: (B, C, ceil(H / k), ceil(W / k)); windows that overhang the
        bottom/right border pool over the pixels inside the map only.
    """
    k = kernel_size
    B, C, H, W = x.shape
    pad_h, pad_w = -H % k, -W % k
    logits = x
    # always pad while tracing: a skipped pad would be frozen into the graph
    if torch.jit.is_tracing() or pad_h or pad_w:
        # padded pixels get weight exp(-inf) = 0 and value 0
        logits = F.pad(x, (0, pad_w, 0, pad_h), value=float('-inf'))
        x = F.pad(x, (0, pad_w, 0, pad_h))
    Ho, Wo = (H + pad_h) // k, (W + pad_w) // k
    x = x.reshape(B, C, Ho, k, Wo, k)
    logits = logits.reshape(B, C, Ho, k, Wo, k)
    # the ratio is invariant to a per-window shift: subtract the window max
    shift = logits.detach().amax(dim=(3, 5), keepdim=True)
    e = torch.exp(logits - shift)
    return (x * e).sum(dim=(3, 5)) / e.sum(dim=(3, 5))


def global_soft_pool2d(x: torch.Tensor) -> torch.Tensor:
    """SoftPool over the whole map: (B, C, H, W) -> (B, C)."""
    x = x.flatten(2)
    return (x * x.softmax(dim=-1)).sum(dim=-1)


@MODELS.register_module()
class SoftPool2d(nn.Module):
    """Module form of :func:`soft_pool2d`.

    Shapes: (B, C, H, W) -> (B, C, ceil(H/k), ceil(W/k)).
    """

    def __init__(self, kernel_size: int = 2):
        super().__init__()
        self.kernel_size = kernel_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return soft_pool2d(x, self.kernel_size)

    def extra_repr(self) -> str:
        return f'kernel_size={self.kernel_size}'
