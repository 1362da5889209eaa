"""SoftPool against the window formula."""

import torch

from mmseg_stunet.models.layers.soft_pool import SoftPool2d, global_soft_pool2d


def test_soft_pool_matches_window_formula():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 7) * 3
    out = SoftPool2d(2)(x)
    assert out.shape == (2, 3, 3, 4)
    ref = torch.empty_like(out)
    for i in range(3):
        for j in range(4):
            win = x[:, :, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].flatten(2)
            ref[:, :, i, j] = (win * win.exp()).sum(-1) / win.exp().sum(-1)
    torch.testing.assert_close(out, ref)
    # numerically stable where exp overflows float32
    big = SoftPool2d(2)(torch.full((1, 1, 2, 2), 1000.0))
    assert torch.allclose(big, torch.tensor(1000.0))
    g = global_soft_pool2d(x)
    flat = x.flatten(2)
    torch.testing.assert_close(
        g, (flat * flat.exp()).sum(-1) / flat.exp().sum(-1)
    )
