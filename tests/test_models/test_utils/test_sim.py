"""SIM against the spec's formula."""

import torch
import torch.nn.functional as F
from helpers import conv_bn_reference, randomise_bn

from mmseg_stunet.models.utils.sim import SpatialInteractionModule


def test_sim_formula():
    torch.manual_seed(0)
    C = 8
    sim = randomise_bn(SpatialInteractionModule(C))
    x = torch.randn(2, C, 6, 10)
    s = F.gelu(conv_bn_reference(x, sim.reduce, padding=2, dilation=2))
    assert s.shape == (2, C // 2, 6, 10)
    row = s.mean(dim=3)  # (B, C/2, h)
    col = s.mean(dim=2)  # (B, C/2, w)
    s = torch.einsum('bch,bcw->bchw', row, col)
    ref = F.gelu(conv_bn_reference(s, sim.expand))
    with torch.no_grad():
        torch.testing.assert_close(sim(x), ref, rtol=1e-4, atol=1e-5)


def _trained_like(sim):
    """BatchNorm statistics as training on natural images leaves them: the
    product of row / column means has a tiny running variance."""
    sim = randomise_bn(sim)
    sim.expand.bn.running_mean.zero_()
    sim.expand.bn.running_var.fill_(1e-3)
    return sim


def test_eval_bound_is_inactive_in_distribution():
    """On varied input the bounded SIM equals the unbounded formula (the
    standardised product stays far below the bound)."""
    torch.manual_seed(0)
    sim = _trained_like(SpatialInteractionModule(8))
    x = torch.randn(2, 8, 12, 10)
    with torch.no_grad():
        bounded = sim(x)
        sim.clip_z = None
        torch.testing.assert_close(bounded, sim(x))


def test_uniform_input_is_bounded_not_squared():
    """A spatially uniform map of magnitude a (blank or nodata input): the
    row and column means are not averaged away, the product grows as a^2 and
    the tiny running std multiplies it; with the eval-mode bound the output
    stays within gamma * clip_z + beta, and training mode is untouched."""
    torch.manual_seed(0)
    sim = _trained_like(SpatialInteractionModule(8, clip_z=20.0))
    bn = sim.expand.bn
    limit = (bn.weight.abs() * 20 + bn.bias.abs()).max().item()
    peaks = {}
    for clip in (None, 20.0):
        sim.clip_z = clip
        for a in (1.0, 10.0, 100.0):
            x = torch.full((1, 8, 9, 9), a) + 0.01 * torch.randn(1, 8, 9, 9)
            with torch.no_grad():
                peaks[clip, a] = sim(x).abs().max().item()
    # unbounded: quadratic growth amplified by 1 / sqrt(1e-3)
    assert peaks[None, 100.0] > 50 * peaks[None, 10.0] > 1e4
    for a in (1.0, 10.0, 100.0):
        assert peaks[20.0, a] <= limit + 1e-3
    sim.train()  # batch statistics: the paper's computation, no bound
    x = torch.randn(4, 8, 9, 9) * 100
    s = sim.reduce(x)
    s = s.mean(3, keepdim=True) @ s.mean(2, keepdim=True)
    torch.testing.assert_close(sim(x), sim.expand(s))
