"""RAM against the spec's formula."""

import pytest
import torch
import torch.nn.functional as F
from helpers import conv_bn_reference, randomise_bn

from mmseg_stunet.models.utils.ram import RelationalAggregationModule

DCN_CFG = dict(type='DeformConvV2')


def test_ram_formula():
    torch.manual_seed(0)
    C, Ct = 8, 6
    ram = randomise_bn(RelationalAggregationModule(C, Ct, DCN_CFG))
    x, t = torch.randn(2, C, 5, 7), torch.randn(2, Ct, 5, 7)
    with torch.no_grad():
        out = ram(x, t)
        xd = ram.dcn(x)
    s = F.relu(conv_bn_reference(t, ram.proj))
    flat = s.flatten(2)
    avg, mx = flat.mean(-1), flat.max(-1).values
    soft = (flat * flat.exp()).sum(-1) / flat.exp().sum(-1)

    def z(v):
        return F.relu(v @ ram.fc1.weight.t() + ram.fc1.bias)

    a = torch.sigmoid(
        (z(soft) * (z(avg) + z(mx))) @ ram.fc2.weight.t() + ram.fc2.bias
    )
    ref = xd + a[:, :, None, None] * xd + s
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match='spatial size'):
        ram(x, t[..., :-1])


def test_dcn_is_centred_with_zero_offsets():
    """With zero offsets and unit masks the RAM's DCN is a plain 3x3 conv
    (no bias, as the authors')."""
    torch.manual_seed(0)
    ram = RelationalAggregationModule(4, 4, DCN_CFG)
    assert ram.dcn.bias is None
    x = torch.randn(1, 4, 6, 6)
    with torch.no_grad():
        ram.dcn.conv_offset.weight.zero_()
        ram.dcn.conv_offset.bias.zero_()
        # mask = sigmoid(0) = 0.5 for every tap
        ref = 0.5 * F.conv2d(x, ram.dcn.weight, None, padding=1)
        torch.testing.assert_close(ram.dcn(x), ref, rtol=1e-4, atol=1e-5)


def test_authors_norm_momentum_and_initialisation():
    """Projection BN momentum 0.01; 1x1 conv and linears at PyTorch's
    default init (uniform within 1/sqrt(fan_in)), also after mmengine's
    init_weights; the DCN keeps mmcv's init (zero offsets)."""
    torch.manual_seed(0)
    ram = RelationalAggregationModule(64, 32, DCN_CFG)
    assert ram.proj.bn.momentum == 0.01
    for _ in range(2):
        for layer, fan_in in (
            (ram.proj.conv, 32),
            (ram.fc1, 64),
            (ram.fc2, 32),
        ):
            bound = fan_in**-0.5
            w = layer.weight
            assert w.abs().max() <= bound
            # uniform: std = bound / sqrt(3), not Kaiming normal's
            assert abs(w.std().item() - bound / 3**0.5) < 0.15 * bound
        assert not ram.dcn.conv_offset.weight.any()
        ram.init_weights()
    gn = RelationalAggregationModule(
        8,
        8,
        DCN_CFG,
        norm_cfg=dict(type='GN', num_groups=2),
        norm_momentum=None,
    )
    assert isinstance(gn.proj.gn, torch.nn.GroupNorm)


def test_keeps_the_autocast_dtype():
    """Under autocast the DCN runs in float32 and its result is cast back:
    the fused map has the input's (autocast) dtype."""
    torch.manual_seed(0)
    ram = RelationalAggregationModule(8, 6, DCN_CFG).eval()
    x = torch.randn(2, 8, 5, 7, dtype=torch.bfloat16)
    t = torch.randn(2, 6, 5, 7)
    with torch.autocast('cpu', dtype=torch.bfloat16), torch.no_grad():
        out = ram(x, t)
    assert out.dtype == torch.bfloat16
