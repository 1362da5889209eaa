"""Forward + backward time and peak memory of DCNv2 implementations.

    python tools/benchmarks/bench_dcn.py [--batch 4] [--repeat 5]
        [--shapes 128x64 256x32 512x16 1024x8] [--device cpu]

Compared, at each (C, H=W) with a 3x3 kernel, C -> C channels:
  conv         plain nn.Conv2d (the floor)
  torch        DeformConvV2(backend='torch')   (this package, pure PyTorch)
  mmcv-layer   DeformConvV2(backend='mmcv')
  torchvision  DeformConvV2(backend='torchvision')
  mmcv         mmcv.ops.ModulatedDeformConv2dPack
  gather       GatherDCNv2 (dcn_impls.py): the authors' gather form (one
               gathered copy of the map per kernel tap and corner), fixed to centred
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
import subprocess
import sys
from typing import Any, Dict

IMPLS = ('conv', 'torch', 'mmcv-layer', 'torchvision', 'mmcv', 'gather')


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
    import torch  # after parsing: --help stays light
    from dcn_impls import check_gather_reference, memory_worker, time_shape

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
