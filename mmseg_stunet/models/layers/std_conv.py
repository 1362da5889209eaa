"""Weight-standardised convolution (Qiao et al. 2019), as in BiT / ResNetV2."""

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import nn


@MODELS.register_module()
class StdConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose weight is standardised per output channel.

    ``w = (w - mean) / sqrt(var + eps)`` with mean and biased variance over
    (in_channels, kh, kw); the stored parameter stays unstandardised, so the
    state dict has the layout of ``nn.Conv2d`` (and of timm's ``StdConv2d``).
    """

    def __init__(self, *args, eps: float = 1e-5, **kwargs):
        super().__init__(*args, **kwargs)
        self.eps = eps

    def standardized_weight(self) -> torch.Tensor:
        w = self.weight
        if torch.jit.is_tracing():  # plain ops export as such to ONNX
            var, mean = torch.var_mean(
                w, dim=(1, 2, 3), correction=0, keepdim=True
            )
            return (w - mean) / torch.sqrt(var + self.eps)
        # batch_norm in training mode over (1, out, in*kh*kw) is a fused
        # mean / biased-variance standardisation per output channel
        return F.batch_norm(
            w.reshape(1, self.out_channels, -1),
            None,
            None,
            training=True,
            momentum=0.0,
            eps=self.eps,
        ).reshape_as(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.standardized_weight(), self.bias)
