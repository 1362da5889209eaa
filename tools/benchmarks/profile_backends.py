"""Where one batch of windows spends its time, PyTorch vs ONNX Runtime.

    python tools/benchmarks/profile_backends.py [--config A.py]
        [--batch 4 1] [--window 256] [--rounds 3] [--rows 8]

The config's model (default: the paper ST-UNet, random weights) is
exported to ONNX with dynamic sizes as tools/export_onnx.py does; for each
--batch, one batch of random 8-bit windows goes through the two back-ends
of the scene predictor (TorchBackend: data preprocessor + encode_decode;
OnnxBackend: the exported graph with its default session). Prints the best
of --rounds times per batch and per window, then, for each --batch, the
--rows operators that take the most time in each: torch.profiler's
self CPU time and onnxruntime's own profile (kernel time per node type),
in milliseconds per batch and as a share of the total.
"""

import argparse
import collections
import json
import os.path as osp
import tempfile
import time
import warnings
from typing import Callable, Dict

from mmseg_stunet.utils.cli import positive_int
from mmseg_stunet.utils.notices import silence_known_notices
from mmseg_stunet.utils.paths import config_path

CONFIG = 'st_unet/st-unet_1xb8-100e_vaihingen-256x256.py'


def best_time(fn: Callable[[], object], rounds: int) -> float:
    """Best of ``rounds`` calls after one warm-up, seconds."""
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def print_top(title: str, ms: Dict[str, float], rows: int) -> None:
    total = sum(ms.values())
    print(f'\n{title}: {total:.0f} ms of operators')
    for name, t in sorted(ms.items(), key=lambda kv: -kv[1])[:rows]:
        print(f'  {name:<48} {t:8.1f} ms {100 * t / total:5.1f} %')


def torch_operators(logits: Callable[[], object]) -> Dict[str, float]:
    """torch.profiler's self CPU time per operator, ms."""
    import torch

    with torch.profiler.profile() as prof:
        logits()
    return {e.key: e.self_cpu_time_total / 1e3 for e in prof.key_averages()}


def onnx_operators(
    path: str, feed: Dict[str, object], folder: str
) -> Dict[str, float]:
    """onnxruntime's kernel time per node type in the third run of a
    fresh session, ms."""
    import onnxruntime as ort

    from mmseg_stunet.apis.backends import session_options

    options = session_options(None, 'all')
    options.enable_profiling = True
    options.profile_file_prefix = osp.join(folder, 'ort')
    session = ort.InferenceSession(
        path, options, providers=['CPUExecutionProvider']
    )
    for _ in range(3):  # the first runs of a session do one-time work
        session.run(None, feed)
    with open(session.end_profiling()) as f:
        events = json.load(f)
    last = max(
        (e for e in events if e.get('name') == 'model_run'),
        key=lambda e: e['ts'],
    )
    ms: Dict[str, float] = collections.defaultdict(float)
    for event in events:
        if (
            event.get('cat') == 'Node'
            and event['name'].endswith('_kernel_time')
            and last['ts'] <= event['ts'] <= last['ts'] + last['dur']
        ):
            ms[event['args']['op_name']] += event['dur'] / 1e3
    return dict(ms)


def main() -> None:
    silence_known_notices()
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=config_path(CONFIG))
    parser.add_argument(
        '--batch', type=positive_int, nargs='+', default=[4, 1]
    )
    parser.add_argument('--window', type=positive_int, default=256)
    parser.add_argument('--rounds', type=positive_int, default=3)
    parser.add_argument('--rows', type=positive_int, default=8)
    args = parser.parse_args()
    # torch, mmseg and onnxruntime after --help
    import numpy as np
    import torch
    from mmengine.config import Config
    from mmseg.apis import init_model

    from mmseg_stunet.apis.backends import OnnxBackend, TorchBackend
    from mmseg_stunet.apis.onnx_export import export_onnx

    torch.manual_seed(0)
    model = init_model(Config.fromfile(args.config), None, 'cpu').eval()
    print(
        f'{osp.basename(args.config)}, random weights; window '
        f'{args.window}; torch {torch.__version__} with '
        f'{torch.get_num_threads()} threads; best of {args.rounds} after a '
        'warm-up'
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'model.onnx')
        with warnings.catch_warnings():  # the exporter's notes
            warnings.simplefilter('ignore')
            export_onnx(model, path, 3, (args.window, args.window))
        backends = dict(
            pytorch=TorchBackend(model), onnxruntime=OnnxBackend(path)
        )
        rng = np.random.RandomState(0)
        inputs = {
            batch: torch.from_numpy(
                rng.randint(
                    0, 256, (batch, 3, args.window, args.window)
                ).astype(np.float32)
            )
            for batch in args.batch
        }
        print(f'{"batch":>5} {"back-end":>12} {"s/batch":>8} {"s/window":>9}')
        for batch, raw in inputs.items():
            for name, backend in backends.items():
                with torch.no_grad():
                    t = best_time(lambda: backend.logits(raw), args.rounds)
                print(f'{batch:>5} {name:>12} {t:8.3f} {t / batch:9.3f}')
        for batch, raw in inputs.items():
            with torch.no_grad():
                ops = torch_operators(lambda: backends['pytorch'].logits(raw))
            print_top(f'PyTorch, batch {batch}', ops, args.rows)
            print_top(
                f'onnxruntime, batch {batch}',
                onnx_operators(path, {'image': raw.numpy()}, tmp),
                args.rows,
            )


if __name__ == '__main__':
    main()
