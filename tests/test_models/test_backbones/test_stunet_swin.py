"""The Swin branch's window attention: fused attention, mmseg's result on
maps larger than the window, the original Swin's window rule on smaller
maps (eager, traced, and at 256x256 in the backbone), token layout."""

import pytest
import torch
from mmseg.models.backbones.swin import ShiftWindowMSA, WindowMSA

from mmseg_stunet.models.backbones.stunet import STUNetBackbone
from mmseg_stunet.models.backbones.stunet_swin import (
    AdaptiveShiftWindowMSA,
    FusedWindowMSA,
    map_to_tokens,
    tokens_to_map,
)


def _random_tables(module):
    for name, p in module.named_parameters():
        if name.endswith('relative_position_bias_table'):
            torch.nn.init.normal_(p)
    return module


def full_map_attention(x, hw, attn):
    """Multi-head self-attention of every token of the (h, w) map with
    every other, the relative-position bias of offset (dy, dx) read from
    ``attn.w_msa``'s table at row (dy + ws - 1) * (2 ws - 1) + dx + ws - 1:
    the original Swin's attention on a map not larger than its window."""
    w_msa, (h, w) = attn.w_msa, hw
    ws = w_msa.window_size[0]
    B, N, C = x.shape
    nH = w_msa.num_heads
    q, k, v = w_msa.qkv(x).view(B, N, 3, nH, C // nH).permute(2, 0, 3, 1, 4)
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    rows = (
        (ys[:, None] - ys[None] + ws - 1) * (2 * ws - 1)
        + xs[:, None]
        - xs[None]
        + ws
        - 1
    )
    bias = w_msa.relative_position_bias_table[rows].permute(2, 0, 1)
    logits = q @ k.transpose(-2, -1) * w_msa.scale + bias
    out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(B, N, C)
    return w_msa.proj(out)


@pytest.mark.parametrize('shift', [False, True])
def test_fused_window_attention_matches_mmseg(shift):
    torch.manual_seed(0)
    ref = _random_tables(
        ShiftWindowMSA(16, 2, 4, shift_size=2 if shift else 0)
    )
    fused = ShiftWindowMSA(16, 2, 4, shift_size=2 if shift else 0)
    fused.w_msa = FusedWindowMSA(16, 2, (4, 4))
    fused.load_state_dict(ref.state_dict())
    x = torch.randn(2, 7 * 10, 16)  # 7x10 map: padded to windows
    torch.testing.assert_close(
        fused(x, (7, 10)), ref(x, (7, 10)), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize('fused', [False, True])
@pytest.mark.parametrize('shift', [False, True])
@pytest.mark.parametrize('hw', [(7, 10), (8, 8), (5, 5), (12, 9)])
def test_maps_larger_than_the_window_match_mmseg(shift, fused, hw):
    """On maps larger than the window: mmseg's ShiftWindowMSA result
    (exactly with mmseg's WindowMSA inside), with and without padding,
    one window or several."""
    torch.manual_seed(0)
    ref = _random_tables(
        ShiftWindowMSA(16, 2, 4, shift_size=2 if shift else 0)
    )
    got = AdaptiveShiftWindowMSA(16, 2, 4, shift_size=2 if shift else 0)
    if not fused:
        got.w_msa = WindowMSA(16, 2, (4, 4))
    got.load_state_dict(ref.state_dict())
    x = torch.randn(2, hw[0] * hw[1], 16)
    torch.testing.assert_close(
        got(x, hw),
        ref(x, hw),
        rtol=1e-4 if fused else 0,
        atol=1e-5 if fused else 0,
    )


@pytest.mark.parametrize('shift', [False, True])
@pytest.mark.parametrize('hw', [(4, 4), (3, 3), (2, 2)])
def test_square_map_not_larger_than_window_attends_globally(shift, hw):
    """min(h, w) <= window: one window of the whole map, no shift (the
    original Swin's rule), for W-MSA and SW-MSA blocks alike."""
    torch.manual_seed(0)
    attn = _random_tables(
        AdaptiveShiftWindowMSA(16, 2, 4, 2 if shift else 0)
    ).eval()
    assert attn.window_and_shift(*hw) == (hw[0], 0)
    x = torch.randn(2, hw[0] * hw[1], 16)
    with torch.no_grad():
        torch.testing.assert_close(
            attn(x, hw), full_map_attention(x, hw, attn), rtol=1e-4, atol=1e-5
        )


@pytest.mark.parametrize('hw', [(3, 5), (4, 9), (2, 7)])
def test_narrow_map_uses_window_of_its_short_side(hw):
    """min(h, w) <= window on a non-square map: windows of min(h, w), not
    shifted, along the long side (padded), each with the offsets' biases of
    the full table: mmseg's W-MSA at that window with the central
    sub-table."""
    torch.manual_seed(0)
    ws, small = 4, min(hw)
    attn = _random_tables(AdaptiveShiftWindowMSA(16, 2, ws, 2)).eval()
    ref = ShiftWindowMSA(16, 2, small, shift_size=0).eval()
    state = attn.state_dict()
    table = state['w_msa.relative_position_bias_table'].view(
        2 * ws - 1, 2 * ws - 1, 2
    )
    lo, hi = ws - small, ws + small - 1
    state['w_msa.relative_position_bias_table'] = table[lo:hi, lo:hi].reshape(
        -1, 2
    )
    state['w_msa.relative_position_index'] = ref.state_dict()[
        'w_msa.relative_position_index'
    ]
    ref.load_state_dict(state)
    x = torch.randn(2, hw[0] * hw[1], 16)
    with torch.no_grad():
        torch.testing.assert_close(
            attn(x, hw), ref(x, hw), rtol=1e-4, atol=1e-5
        )


def test_traced_attention_applies_the_rule_at_run_time():
    """Traced at a size larger than the window, the graph gives the eager
    result at sizes where the rule applies and where it does not."""
    torch.manual_seed(0)
    attn = _random_tables(AdaptiveShiftWindowMSA(16, 2, 4, 2)).eval()

    class Wrap(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = attn

        def forward(self, m):  # (B, C, h, w) map
            return self.attn(map_to_tokens(m), m.shape[2:])

    wrap = Wrap().eval()
    with torch.no_grad():
        traced = torch.jit.trace(
            wrap, torch.randn(1, 16, 9, 11), check_trace=False
        )
        for hw in [(9, 11), (4, 4), (3, 6), (8, 5), (6, 13)]:
            m = torch.randn(2, 16, *hw)
            torch.testing.assert_close(
                traced(m), wrap(m), rtol=1e-4, atol=1e-5
            )


def test_stage_4_attends_over_the_whole_map_at_256():
    """The paper setting's geometry (window 8, 256x256 input): stage 4 is
    8x8 and both its blocks compute full-map attention; stage 3 (16x16)
    keeps windows of 8 shifted by 4 in its SW-MSA blocks."""
    torch.manual_seed(0)
    net = STUNetBackbone(
        base_channels=8,
        stage_blocks=(1, 1, 1, 1),
        num_groups=4,
        embed_dims=16,
        num_heads=(1, 2, 2, 4),
        depths=(2, 2, 2, 2),
        window_size=8,
    ).eval()
    _random_tables(net)
    seen = []
    hooks = [
        blk.attn.register_forward_hook(
            lambda mod, args, out: seen.append((mod, args, out))
        )
        for blk in net.swin.stages[3].blocks
    ]
    with torch.no_grad():
        net(torch.randn(1, 3, 256, 256))
    for h in hooks:
        h.remove()
    assert len(seen) == 2
    for mod, (x, hw), out in seen:
        assert tuple(hw) == (8, 8) and mod.window_and_shift(8, 8) == (8, 0)
        with torch.no_grad():
            torch.testing.assert_close(
                out, full_map_attention(x, hw, mod), rtol=1e-4, atol=1e-5
            )
    stage3 = net.swin.stages[2].blocks[1].attn
    assert stage3.window_and_shift(16, 16) == (8, 4)


def test_token_layout_is_a_permute():
    x = torch.arange(2 * 3 * 4 * 5.0).view(2, 3 * 4, 5)  # (B, h*w, C)
    m = tokens_to_map(x, (3, 4))
    assert m[1, 2, 2, 3] == x[1, 2 * 4 + 3, 2]
    assert torch.equal(map_to_tokens(m), x)
