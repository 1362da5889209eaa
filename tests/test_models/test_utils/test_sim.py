"""SIM against the spec's formula."""
import torch
import torch.nn.functional as F

from mmseg_stunet.models.utils.sim import SpatialInteractionModule
from mmseg_stunet.testing import conv_bn_reference, randomise_bn


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
