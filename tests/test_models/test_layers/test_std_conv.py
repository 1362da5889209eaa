"""Weight-standardised convolution against its formula."""

import torch
import torch.nn.functional as F

from mmseg_stunet.models.layers.std_conv import StdConv2d


def test_std_conv_standardises_weights():
    torch.manual_seed(0)
    conv = StdConv2d(4, 6, 3, padding=1, bias=False)
    x = torch.randn(2, 4, 9, 9)
    w = conv.weight
    mean = w.mean(dim=(1, 2, 3), keepdim=True)
    var = w.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
    ref = F.conv2d(x, (w - mean) / (var + 1e-5).sqrt(), padding=1)
    torch.testing.assert_close(conv(x), ref, rtol=1e-4, atol=1e-4)
