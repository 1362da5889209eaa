"""FCM against the spec's formula."""

import pytest
import torch
import torch.nn.functional as F
from helpers import conv_bn_reference, randomise_bn

from mmseg_stunet.models.utils.fcm import FeatureCompressionModule


@pytest.mark.parametrize('hw', [(8, 6), (7, 5)])
def test_fcm_formula(hw):
    torch.manual_seed(0)
    C = 8
    fcm = randomise_bn(FeatureCompressionModule(C))
    x = torch.randn(2, C, *hw)
    m1, m2, m3 = fcm.main
    main = F.gelu(conv_bn_reference(x, m1))
    main = conv_bn_reference(main, m2, padding=2, dilation=2)
    main = F.gelu(conv_bn_reference(main, m3, stride=2))
    # SoftPool 2x2/2 written out on the zero/-inf padded map
    H, W = hw
    xp = F.pad(x, (0, W % 2, 0, H % 2), value=-1e4)
    wins = F.unfold(xp, 2, stride=2).view(2, C, 4, -1)
    pooled = (
        (wins.softmax(dim=2) * wins)
        .sum(2)
        .view(2, C, (H + 1) // 2, (W + 1) // 2)
    )
    short = F.group_norm(
        pooled,
        C // 2,
        fcm.pool_norm.weight,
        fcm.pool_norm.bias,
        fcm.pool_norm.eps,
    )
    short = F.gelu(conv_bn_reference(short, fcm.shortcut))
    with torch.no_grad():
        out = fcm(x)
    assert out.shape == (2, 2 * C, (H + 1) // 2, (W + 1) // 2)
    torch.testing.assert_close(out, main + short, rtol=1e-4, atol=1e-4)
