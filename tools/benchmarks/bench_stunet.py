"""ST-UNet vs MMSegmentation's DeepLabV3+ R-50-D8: train step, inference,
peak memory and parameters, on the paths the tools run, in one run (one
subprocess per model and path, so peak RSS is per model).

    python tools/benchmarks/bench_stunet.py                 # fp32 and --amp
    python tools/benchmarks/bench_stunet.py --variants amp --iters 5

Models: the paper config (configs/st_unet/st-unet_1xb8-100e_vaihingen-
256x256.py) and the DeepLabV3+ baseline on the same protocol (configs/
deeplabv3plus/...), built and initialised as the runner builds them.
Paths: ``fp32`` is the config as is; ``amp`` is what ``tools/train.py
--amp`` / ``tools/test.py --amp`` run (MixedPrecisionOptimWrapper: bfloat16
autocast on CPU, float16 with loss scaling on CUDA; channels-last weights;
autocast in the test loop). Train step: ``model.train_step`` (data
preprocessing, forward, loss, backward, SGD step with momentum and weight
decay) on batch 4 of 256x256 images; inference: ``model.test_step`` (the
config's test mode) on the same batch. Figures: best and median wall-clock
seconds over ``--iters`` timed iterations after two warm-ups, the process
CPU seconds of the best iteration, and the peak RSS of the process. The
machine line gives the float32 and bfloat16 throughput of a 2048^3 matmul,
to compare figures across machines.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, Tuple

CONFIGS = {
    'stunet': ('st_unet', 'st-unet_1xb8-100e_vaihingen-256x256.py'),
    'deeplabv3plus': (
        'deeplabv3plus',
        'deeplabv3plus_r50-d8_1xb8-100e_vaihingen-256x256.py',
    ),
}


def worker(args: argparse.Namespace) -> None:
    import torch
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.runner.amp import autocast
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample

    import mmseg_stunet  # noqa: F401
    from mmseg_stunet.engine.runner import enable_amp
    from mmseg_stunet.utils.paths import config_path

    torch.set_num_threads(args.threads)
    init_default_scope('mmseg')
    cfg = Config.fromfile(config_path(*CONFIGS[args.model]))
    amp = args.variant == 'amp'
    if amp:
        enable_amp(cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    if cfg.get('channels_last'):
        model = model.to(memory_format=torch.channels_last)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    n_params = sum(p.numel() for p in model.parameters())
    B, H, W = 4, 256, 256
    gen = torch.Generator().manual_seed(0)

    def batch() -> Dict[str, Any]:
        return dict(
            inputs=[
                torch.randint(0, 256, (3, H, W), generator=gen).float()
                for _ in range(B)
            ],
            data_samples=[
                SegDataSample(
                    gt_sem_seg=PixelData(
                        data=torch.randint(0, 6, (1, H, W), generator=gen)
                    ),
                    metainfo=dict(
                        img_shape=(H, W), ori_shape=(H, W), pad_shape=(H, W)
                    ),
                )
                for _ in range(B)
            ],
        )

    data = batch()

    def train_step() -> None:
        model.train_step(data, optim_wrapper)

    def infer() -> None:
        with torch.no_grad(), autocast(enabled=amp):
            model.test_step(data)

    def timed(fn: Callable[[], Any]) -> Tuple[float, float, float]:
        for _ in range(2):
            fn()
        rounds = []
        for _ in range(args.iters):
            t, c = time.perf_counter(), time.process_time()
            fn()
            rounds.append((time.perf_counter() - t, time.process_time() - c))
        best = min(rounds)
        return best[0], statistics.median(r[0] for r in rounds), best[1]

    model.train()
    train = timed(train_step)
    model.eval()
    test = timed(infer)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        json.dumps(
            dict(
                model=args.model,
                variant=args.variant,
                train=train,
                infer=test,
                rss_gb=rss,
                params_m=n_params / 1e6,
            )
        )
    )


def machine_line(threads: int) -> str:
    import torch

    from mmseg_stunet.engine.optim_wrapper import cpu_bf16_support

    torch.set_num_threads(threads)
    bf16 = cpu_bf16_support()
    # without bfloat16 instructions a 2048^3 bfloat16 matmul takes minutes
    dtypes = (
        (torch.float32, torch.bfloat16)
        if bf16 == 'native'
        else (torch.float32,)
    )
    rates = {torch.bfloat16: 'n/a'}
    for dtype in dtypes:
        a = torch.randn(2048, 2048, dtype=dtype)
        b = torch.randn(2048, 2048, dtype=dtype)
        a @ b
        best = min(_seconds(lambda: a @ b) for _ in range(5))
        rates[dtype] = f'{2 * 2048**3 / best / 1e9:.0f}'
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(
                line.split(':', 1)[1].strip()
                for line in f
                if line.startswith('model name')
            )
    except (OSError, StopIteration):
        pass
    return (
        f'{cpu}, {os.cpu_count()} CPUs, torch {torch.__version__}, '
        f'{threads} threads, bfloat16 {bf16}; matmul '
        f'2048^3: float32 {rates[torch.float32]} GFLOP/s, bfloat16 '
        f'{rates[torch.bfloat16]} GFLOP/s; load average '
        f'{os.getloadavg()[0]:.1f}'
    )


def _seconds(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--models', nargs='+', default=list(CONFIGS))
    p.add_argument(
        '--variants',
        nargs='+',
        default=['fp32', 'amp'],
        help='fp32 (the config as is), amp (tools --amp)',
    )
    p.add_argument('--iters', type=int, default=5)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--model', help=argparse.SUPPRESS)
    p.add_argument('--variant', help=argparse.SUPPRESS)
    args = p.parse_args()
    from mmseg_stunet.utils.notices import silence_known_notices

    silence_known_notices()  # third-party notices, not figures
    if args.model:
        return worker(args)
    print(machine_line(args.threads))
    print(
        f'batch 4, 256x256; best (median) of {args.iters} after 2 '
        'warm-ups; CPU s of the best'
    )
    rows = []
    for variant in args.variants:
        for model in args.models:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    '--model',
                    model,
                    '--variant',
                    variant,
                    '--iters',
                    str(args.iters),
                    '--threads',
                    str(args.threads),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            if out.returncode:
                # a refusal (e.g. --amp on a CPU without bfloat16) is one
                # line; anything else gets the end of its traceback
                err = out.stderr.strip().splitlines() or ['(no output)']
                known = err[-1].startswith('mmseg_stunet.engine.errors.')
                print(
                    f'{model} {variant} not measured: '
                    + (err[-1] if known else '\n' + out.stderr[-3000:])
                )
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        f'{"model":<14}{"path":<6}{"train s":>16}{"cpu s":>7}'
        f'{"infer s":>16}{"cpu s":>7}{"RSS GB":>8}{"params M":>10}'
    )
    for r in rows:
        (tb, tm, tc), (ib, im, ic) = r['train'], r['infer']
        print(
            f'{r["model"]:<14}{r["variant"]:<6}'
            f'{tb:>8.2f} ({tm:>5.2f}){tc:>7.2f}'
            f'{ib:>8.2f} ({im:>5.2f}){ic:>7.2f}'
            f'{r["rss_gb"]:>8.2f}{r["params_m"]:>10.2f}'
        )
    got = {(r['model'], r['variant']): r for r in rows}
    for variant in args.variants:
        s, d = (
            got.get(('stunet', variant)),
            got.get(('deeplabv3plus', variant)),
        )
        if s and d:
            print(
                f'{variant}: ST-UNet / DeepLabV3+: train '
                f'{s["train"][0] / d["train"][0]:.2f}x, infer '
                f'{s["infer"][0] / d["infer"][0]:.2f}x, RSS '
                f'{s["rss_gb"] / d["rss_gb"]:.2f}x'
            )
    for model in args.models:
        f, a = got.get((model, 'fp32')), got.get((model, 'amp'))
        if f and a:
            print(
                f'{model}: amp / fp32: train '
                f'{a["train"][0] / f["train"][0]:.2f}x, infer '
                f'{a["infer"][0] / f["infer"][0]:.2f}x, RSS '
                f'{a["rss_gb"] / f["rss_gb"]:.2f}x'
            )


if __name__ == '__main__':
    main()
