"""The DCNv2 implementations tools/benchmarks/bench_dcn.py compares, and
its timed steps (a module of their own so that ``bench_dcn.py --help``
imports no torch).

``GatherDCNv2`` is the authors' gather form of the layer, kept here only as
the benchmark's baseline; the package's layer is
``mmseg_stunet.models.layers.dcn.DeformConvV2``.
"""

import os
import statistics
import time
from typing import Any, Callable, Dict, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


class GatherDCNv2(nn.Module):
    """DCNv2 in the authors' form (stride 1, groups 1, one deform group).

    The sampled map is built by four ``gather`` calls that each copy the
    (padded) map once per kernel tap, modulated, re-tiled to
    (B, C, H * k, W * k) and convolved with stride k.
    """

    def __init__(self, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.k = kernel_size
        self.conv_offset = nn.Conv2d(
            channels, 3 * kernel_size**2, kernel_size, padding=kernel_size // 2
        )
        self.conv = nn.Conv2d(
            channels, channels, kernel_size, stride=kernel_size
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o1, o2, mask = torch.chunk(self.conv_offset(x), 3, dim=1)
        offset, mask = torch.cat((o1, o2), 1), torch.sigmoid(mask)
        k, N = self.k, self.k**2
        B, C, H, W = x.shape
        pad = k // 2
        # one zero border pixel beyond the reach of the taps: corners that
        # clamp onto it read zero, like a map that is zero outside
        xp = F.pad(x, (pad + 1,) * 4)
        Hp, Wp = xp.shape[2:]
        off = offset.view(B, N, 2, H, W)
        dev = x.device
        ty, tx = torch.meshgrid(
            torch.arange(k, device=dev),
            torch.arange(k, device=dev),
            indexing='ij',
        )
        py = (
            torch.arange(H, device=dev).view(1, 1, H, 1)
            + ty.reshape(1, N, 1, 1)
            + 1
            + off[:, :, 0]
        ).permute(0, 2, 3, 1)  # (B, H, W, N)
        px = (
            torch.arange(W, device=dev).view(1, 1, 1, W)
            + tx.reshape(1, N, 1, 1)
            + 1
            + off[:, :, 1]
        ).permute(0, 2, 3, 1)
        py, px = py.clamp(0, Hp - 1), px.clamp(0, Wp - 1)
        y0, x0 = py.detach().floor(), px.detach().floor()
        y1, x1 = (y0 + 1).clamp(max=Hp - 1), (x0 + 1).clamp(max=Wp - 1)
        flat = xp.contiguous().view(B, C, -1)

        # (B, C, H, W, N): a copy of the map per tap
        def get(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
            idx = (
                (yy.long() * Wp + xx.long())
                .reshape(B, 1, -1)
                .expand(-1, C, -1)
            )
            return flat.gather(-1, idx).view(B, C, H, W, N)

        ly, lx = py - y0, px - x0
        sampled = (
            ((1 - ly) * (1 - lx)).unsqueeze(1) * get(y0, x0)
            + ((1 - ly) * lx).unsqueeze(1) * get(y0, x1)
            + (ly * (1 - lx)).unsqueeze(1) * get(y1, x0)
            + (ly * lx).unsqueeze(1) * get(y1, x1)
        )
        sampled = sampled * mask.permute(0, 2, 3, 1).unsqueeze(1)
        tiles = sampled.view(B, C, H, W, k, k).permute(0, 1, 2, 4, 3, 5)
        return self.conv(tiles.reshape(B, C, H * k, W * k))


def build(impl: str, channels: int) -> nn.Module:
    """The layer for ``impl``, offset conv with small random weights."""
    if impl == 'conv':
        return nn.Conv2d(channels, channels, 3, padding=1)
    if impl == 'gather':
        layer = GatherDCNv2(channels)
    elif impl == 'mmcv':
        from mmcv.ops import ModulatedDeformConv2dPack

        layer = ModulatedDeformConv2dPack(channels, channels, 3, padding=1)
    else:
        from mmseg_stunet.models.layers.dcn import DeformConvV2

        backend = 'mmcv' if impl == 'mmcv-layer' else impl
        layer = DeformConvV2(channels, channels, 3, padding=1, backend=backend)
    nn.init.normal_(layer.conv_offset.weight, std=1.0 / (3 * channels**0.5))
    return layer


def peak_rss_bytes() -> int:
    """VmHWM: this process's peak RSS (unlike ru_maxrss, not inherited from
    the parent across fork + exec)."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    raise RuntimeError('no VmHWM in /proc/self/status')


def rss_bytes() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def make_step(
    impl: str, channels: int, size: int, batch: int, device: torch.device
) -> Callable[[], None]:
    """A fwd+bwd closure for ``impl``; raises if it cannot run."""
    torch.manual_seed(0)
    layer = build(impl, channels).to(device)
    x = torch.randn(
        batch, channels, size, size, device=device, requires_grad=True
    )
    grad = torch.randn(batch, channels, size, size, device=device)
    layer(x[:1, :, :4, :4].detach())  # fails fast if unsupported

    def step() -> None:
        layer.zero_grad(set_to_none=True)
        x.grad = None
        layer(x).backward(grad)
        if device.type == 'cuda':
            torch.cuda.synchronize()

    return step


def time_shape(
    impls: Sequence[str],
    channels: int,
    size: int,
    batch: int,
    repeat: int,
    device: torch.device,
) -> Dict[str, Dict[str, Any]]:
    """Interleaved timing: every round runs each implementation once, so a
    burst of load from other jobs hits all of them alike."""
    steps, results = {}, {}
    for impl in impls:
        try:
            steps[impl] = make_step(impl, channels, size, batch, device)
            steps[impl]()  # warm-up
        except (ImportError, RuntimeError) as e:
            results[impl] = dict(
                error=f'{type(e).__name__}: {e}'.splitlines()[0]
            )
    times = {impl: [] for impl in steps}
    for _ in range(repeat):
        for impl, step in steps.items():
            t = time.perf_counter()
            step()
            times[impl].append(time.perf_counter() - t)
    for impl, ts in times.items():
        results[impl] = dict(time=min(ts), median=statistics.median(ts))
    return results


def memory_worker(
    impl: str, channels: int, size: int, batch: int, device: torch.device
) -> Dict[str, Any]:
    """Peak memory of two fwd+bwd passes, run in a fresh process."""
    try:
        step = make_step(impl, channels, size, batch, device)
    except (ImportError, RuntimeError) as e:
        return dict(error=f'{type(e).__name__}: {e}'.splitlines()[0])
    base = rss_bytes()
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    step()
    step()
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = peak_rss_bytes()
    return dict(peak=peak, rise=peak - base)


def check_gather_reference() -> float:
    """Max |gather - torch back-end| on a small case (both fp64)."""
    from mmseg_stunet.models.layers.dcn import DeformConvV2

    torch.manual_seed(0)
    ref, ours = (
        GatherDCNv2(8).double(),
        DeformConvV2(8, 8, 3, padding=1, backend='torch').double(),
    )
    nn.init.normal_(ref.conv_offset.weight, std=0.5)
    ours.conv_offset.load_state_dict(ref.conv_offset.state_dict())
    ours.weight.data.copy_(ref.conv.weight)
    ours.bias.data.copy_(ref.conv.bias)
    x = torch.randn(2, 8, 9, 11, dtype=torch.float64)
    return (ref(x) - ours(x)).abs().max().item()
