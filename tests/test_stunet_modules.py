"""ST-UNet's layers and modules against direct tensor formulas of the spec."""
import pytest
import torch
import torch.nn.functional as F

from mmseg_stunet.models.backbones.swin_branch import (
    FusedWindowMSA, TraceableShiftWindowMSA, map_to_tokens, tokens_to_map)
from mmseg_stunet.models.layers.soft_pool import (SoftPool2d,
                                                  global_soft_pool2d)
from mmseg_stunet.models.layers.std_conv import StdConv2d
from mmseg_stunet.models.modules.fcm import FeatureCompressionModule
from mmseg_stunet.models.modules.ram import RelationalAggregationModule
from mmseg_stunet.models.modules.sim import SpatialInteractionModule

DCN_CFG = dict(type='DeformConvV2')


def _randomise_bn(module):
    """Random affine parameters and running statistics; eval mode."""
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_()
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.)
    return module.eval()


def _bn(x, bn):
    return ((x - bn.running_mean[:, None, None]) /
            (bn.running_var[:, None, None] + bn.eps).sqrt() *
            bn.weight[:, None, None] + bn.bias[:, None, None])


def _conv_bn(x, cm, stride=1, padding=0, dilation=1):
    """Conv (+ bias if any) then eval-mode BN of an mmcv ConvModule."""
    y = F.conv2d(x, cm.conv.weight, cm.conv.bias, stride, padding, dilation)
    return _bn(y, cm.bn)


def test_soft_pool_matches_window_formula():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 7) * 3
    out = SoftPool2d(2)(x)
    assert out.shape == (2, 3, 3, 4)
    ref = torch.empty_like(out)
    for i in range(3):
        for j in range(4):
            win = x[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2].flatten(2)
            ref[:, :, i, j] = (win * win.exp()).sum(-1) / win.exp().sum(-1)
    torch.testing.assert_close(out, ref)
    # numerically stable where exp overflows float32
    big = SoftPool2d(2)(torch.full((1, 1, 2, 2), 1000.))
    assert torch.allclose(big, torch.tensor(1000.))
    g = global_soft_pool2d(x)
    flat = x.flatten(2)
    torch.testing.assert_close(g, (flat * flat.exp()).sum(-1) /
                               flat.exp().sum(-1))


def test_std_conv_standardises_weights():
    torch.manual_seed(0)
    conv = StdConv2d(4, 6, 3, padding=1, bias=False)
    x = torch.randn(2, 4, 9, 9)
    w = conv.weight
    mean = w.mean(dim=(1, 2, 3), keepdim=True)
    var = w.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
    ref = F.conv2d(x, (w - mean) / (var + 1e-5).sqrt(), padding=1)
    torch.testing.assert_close(conv(x), ref, rtol=1e-4, atol=1e-4)


def test_sim_formula():
    torch.manual_seed(0)
    C = 8
    sim = _randomise_bn(SpatialInteractionModule(C))
    x = torch.randn(2, C, 6, 10)
    s = F.gelu(_conv_bn(x, sim.reduce, padding=2, dilation=2))
    assert s.shape == (2, C // 2, 6, 10)
    row = s.mean(dim=3)  # (B, C/2, h)
    col = s.mean(dim=2)  # (B, C/2, w)
    s = torch.einsum('bch,bcw->bchw', row, col)
    ref = F.gelu(_conv_bn(s, sim.expand))
    with torch.no_grad():
        torch.testing.assert_close(sim(x), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('hw', [(8, 6), (7, 5)])
def test_fcm_formula(hw):
    torch.manual_seed(0)
    C = 8
    fcm = _randomise_bn(FeatureCompressionModule(C))
    x = torch.randn(2, C, *hw)
    m1, m2, m3 = fcm.main
    main = F.gelu(_conv_bn(x, m1))
    main = _conv_bn(main, m2, padding=2, dilation=2)
    main = F.gelu(_conv_bn(main, m3, stride=2))
    # SoftPool 2x2/2 written out on the zero/-inf padded map
    H, W = hw
    xp = F.pad(x, (0, W % 2, 0, H % 2), value=-1e4)
    wins = F.unfold(xp, 2, stride=2).view(2, C, 4, -1)
    pooled = (wins.softmax(dim=2) * wins).sum(2).view(2, C, (H + 1) // 2,
                                                      (W + 1) // 2)
    short = F.group_norm(pooled, C // 2, fcm.pool_norm.weight,
                         fcm.pool_norm.bias, fcm.pool_norm.eps)
    short = F.gelu(_conv_bn(short, fcm.shortcut))
    with torch.no_grad():
        out = fcm(x)
    assert out.shape == (2, 2 * C, (H + 1) // 2, (W + 1) // 2)
    torch.testing.assert_close(out, main + short, rtol=1e-4, atol=1e-4)


def test_ram_formula():
    torch.manual_seed(0)
    C, Ct = 8, 6
    ram = _randomise_bn(RelationalAggregationModule(C, Ct, DCN_CFG))
    x, t = torch.randn(2, C, 5, 7), torch.randn(2, Ct, 5, 7)
    with torch.no_grad():
        out = ram(x, t)
        xd = ram.dcn(x)
    s = F.relu(_conv_bn(t, ram.proj))
    flat = s.flatten(2)
    avg, mx = flat.mean(-1), flat.max(-1).values
    soft = (flat * flat.exp()).sum(-1) / flat.exp().sum(-1)

    def z(v):
        return F.relu(v @ ram.fc1.weight.t() + ram.fc1.bias)

    a = torch.sigmoid((z(soft) * (z(avg) + z(mx))) @ ram.fc2.weight.t() +
                      ram.fc2.bias)
    ref = xd + a[:, :, None, None] * xd + s
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match='spatial size'):
        ram(x, t[..., :-1])


def test_dcn_is_centred_with_zero_offsets():
    """With zero offsets and unit masks the RAM's DCN is a plain 3x3 conv."""
    torch.manual_seed(0)
    ram = RelationalAggregationModule(4, 4, DCN_CFG)
    x = torch.randn(1, 4, 6, 6)
    with torch.no_grad():
        ram.dcn.conv_offset.weight.zero_()
        ram.dcn.conv_offset.bias.zero_()
        # mask = sigmoid(0) = 0.5 for every tap
        ref = 0.5 * F.conv2d(x, ram.dcn.weight, None, padding=1) + \
            ram.dcn.bias[:, None, None]
        torch.testing.assert_close(ram.dcn(x), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('shift', [False, True])
def test_fused_window_attention_matches_mmseg(shift):
    from mmseg.models.backbones.swin import ShiftWindowMSA
    torch.manual_seed(0)
    ref = ShiftWindowMSA(16, 2, 4, shift_size=2 if shift else 0)
    torch.nn.init.normal_(ref.w_msa.relative_position_bias_table)
    fused = ShiftWindowMSA(16, 2, 4, shift_size=2 if shift else 0)
    fused.w_msa = FusedWindowMSA(16, 2, (4, 4))
    fused.load_state_dict(ref.state_dict())
    x = torch.randn(2, 7 * 10, 16)  # 7x10 map: padded to windows
    torch.testing.assert_close(fused(x, (7, 10)),
                               ref(x, (7, 10)),
                               rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize('fused', [False, True])
@pytest.mark.parametrize('shift', [False, True])
@pytest.mark.parametrize('hw', [(7, 10), (8, 8), (4, 4), (3, 5), (12, 9)])
def test_traceable_shift_window_msa_matches_mmseg(shift, fused, hw):
    """The trace-friendly window padding, shift mask and window merge give
    mmseg's ShiftWindowMSA result (exactly with mmseg's WindowMSA), with
    and without padding, one window or several."""
    from mmseg.models.backbones.swin import ShiftWindowMSA
    torch.manual_seed(0)
    ref = ShiftWindowMSA(16, 2, 4, shift_size=2 if shift else 0)
    torch.nn.init.normal_(ref.w_msa.relative_position_bias_table)
    got = TraceableShiftWindowMSA(16, 2, 4, shift_size=2 if shift else 0)
    if fused:
        got.w_msa = FusedWindowMSA(16, 2, (4, 4))
    got.load_state_dict(ref.state_dict())
    x = torch.randn(2, hw[0] * hw[1], 16)
    torch.testing.assert_close(got(x, hw),
                               ref(x, hw),
                               rtol=1e-4 if fused else 0,
                               atol=1e-5 if fused else 0)


def test_token_layout_is_a_permute():
    x = torch.arange(2 * 3 * 4 * 5.).view(2, 3 * 4, 5)  # (B, h*w, C)
    m = tokens_to_map(x, (3, 4))
    assert m[1, 2, 2, 3] == x[1, 2 * 4 + 3, 2]
    assert torch.equal(map_to_tokens(m), x)
