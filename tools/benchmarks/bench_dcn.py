"""Forward + backward time and peak memory of DCNv2 implementations.

    python tools/benchmarks/bench_dcn.py [--batch 4] [--repeat 5]
        [--shapes 128x64 256x32 512x16 1024x8] [--device cpu]

Compared, at each (C, H=W) with a 3x3 kernel, C -> C channels:
  conv         plain nn.Conv2d (the floor)
  torch        DeformConvV2(backend='torch')   (this package, pure PyTorch)
  mmcv-layer   DeformConvV2(backend='mmcv')
  torchvision  DeformConvV2(backend='torchvision')
  mmcv         mmcv.ops.ModulatedDeformConv2dPack
  gather       GatherDCNv2 below: the authors' gather form (one gathered
               copy of the map per kernel tap and corner), fixed to centred
               taps with zeros outside the map.
Every layer predicts its offsets with the same small random offset conv
(offsets of a few pixels). Time: after one warm-up, --repeat rounds that each
run every implementation once (interleaved, so bursts of load from other jobs
hit all alike); the best and the median per implementation are printed, the
best being the least disturbed. Memory: each (implementation, shape) runs two
passes in a fresh process; printed are its peak RSS and the rise over the RSS
just before the first pass (layer and inputs already allocated). An
implementation that is not installed prints 'n/a' and the reason. On CUDA
the memory is read in this process (the allocator's peak after a reset), and
``--json PATH`` also writes every figure as JSON (tools/gpu_check.sh reads it).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

IMPLS = ('conv', 'torch', 'mmcv-layer', 'torchvision', 'mmcv', 'gather')


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument(
        '--shapes', nargs='+', default=['128x64', '256x32', '512x16', '1024x8']
    )
    parser.add_argument('--impls', nargs='+', default=list(IMPLS))
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--worker', nargs=2, metavar=('IMPL', 'SHAPE'))
    parser.add_argument('--json', help='also write the figures here')
    parser.add_argument(
        '--no-memory', action='store_true', help='time only (no memory passes)'
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.worker:
        impl, shape = args.worker
        c, h = map(int, shape.split('x'))
        print(json.dumps(memory_worker(impl, c, h, args.batch, device)))
        return

    print(
        f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
        f'device {device}, batch {args.batch}, 3x3 kernel, C -> C, '
        f'{args.repeat} interleaved rounds of fwd+bwd'
    )
    print(
        f'gather reference vs torch back-end, max abs diff (fp64): '
        f'{check_gather_reference():.2e}'
    )
    results = {}
    for shape in args.shapes:
        c, h = map(int, shape.split('x'))
        for impl, r in time_shape(
            args.impls, c, h, args.batch, args.repeat, device
        ).items():
            results[shape, impl] = r
    for shape in args.shapes:
        for impl in args.impls:
            if 'error' in results[shape, impl] or args.no_memory:
                continue
            if device.type == 'cuda':  # the allocator knows its own peak
                c, h = map(int, shape.split('x'))
                results[shape, impl].update(
                    memory_worker(impl, c, h, args.batch, device)
                )
                torch.cuda.empty_cache()
                continue
            cmd = [
                sys.executable,
                __file__,
                '--worker',
                impl,
                shape,
                '--batch',
                str(args.batch),
                '--device',
                args.device,
            ]
            out = subprocess.run(cmd, capture_output=True, text=True)
            try:
                mem = json.loads(out.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                mem = dict(
                    error=(out.stderr.strip().splitlines() or ['?'])[-1]
                )
            results[shape, impl].update(mem)

    def cell(r: Dict[str, Any], key: str, scale: float, fmt: str) -> str:
        return fmt % (r[key] / scale) if key in r else f'{"n/a":>11}'

    header = f'{"(C, H)":>11} ' + ' '.join(f'{i:>11}' for i in args.impls)
    mem_unit = 'GPU MB' if device.type == 'cuda' else 'RSS MB'
    for title, key, scale, fmt in (
        ('seconds per fwd+bwd, best', 'time', 1, '%11.3f'),
        ('seconds per fwd+bwd, median', 'median', 1, '%11.3f'),
        (f'peak {mem_unit}', 'peak', 2**20, '%11.0f'),
        (f'{mem_unit} rise during fwd+bwd', 'rise', 2**20, '%11.0f'),
    ):
        print(f'\n{title}\n{header}')
        for shape in args.shapes:
            print(
                f'{shape:>11} '
                + ' '.join(
                    cell(results[shape, i], key, scale, fmt)
                    for i in args.impls
                )
            )

    def ratio(shape: str, a: str, b: str, key: str) -> str:
        ra, rb = results.get((shape, a), {}), results.get((shape, b), {})
        if key in ra and key in rb and rb[key] > 0:
            return f'{ra[key] / rb[key]:6.2f}'
        return '   n/a'

    print(
        '\nratios          torch/conv  gather/torch  mmcv/torch  '
        'rise torch/gather'
    )
    for shape in args.shapes:
        print(
            f'{shape:>11}      {ratio(shape, "torch", "conv", "time")}'
            f'        {ratio(shape, "gather", "torch", "time")}'
            f'      {ratio(shape, "mmcv", "torch", "time")}'
            f'            {ratio(shape, "torch", "gather", "rise")}'
        )
    for (shape, impl), r in results.items():
        if 'error' in r:
            print(f'{impl} at {shape}: {r["error"]}')
    if args.json:
        table = {}
        for (shape, impl), r in results.items():
            table.setdefault(shape, {})[impl] = r
        with open(args.json, 'w') as f:
            json.dump(
                dict(
                    device=str(device),
                    batch=args.batch,
                    repeat=args.repeat,
                    impls=args.impls,
                    torch=torch.__version__,
                    results=table,
                ),
                f,
                indent=1,
            )


if __name__ == '__main__':
    main()
