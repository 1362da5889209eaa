"""The measuring steps of ``tools/gpu_check.sh`` (one subcommand each).

    python tools/gpu_check.py env      --json OUT
    python tools/gpu_check.py data     --root DIR [--area-size 512 --tile 256
                                        --scene 4096]
    python tools/gpu_check.py train    --run NAME CONFIG [--run ...]
                                       --data DIR --results DIR
                                       [--batch 8 --crop 256 --iters 300
                                        --max-seconds 28 --require-fall]
    python tools/gpu_check.py dcn      --json OUT [--batch 8 --device cuda]
    python tools/gpu_check.py predict  --root DIR --json OUT [--batch 16]
    python tools/gpu_check.py report   --work DIR --out OUT_DIR

Every measuring step writes JSON; ``report`` gathers it with the status and
time of each step (``WORK/status/*.json``, written by the shell script) into
``gpu_report.json`` and ``gpu_report.md``. The shell script gives every step
its own time limit, so a hung or failed step costs only its budget and the
report is always written. On the lent GPU machine starting Python with torch
and the OpenMMLab stack takes about 15 s, so the training runs share one
process and the prediction step runs tools/predict.py alone.
"""

import argparse
import glob
import json
import math
import os
import os.path as osp
import platform
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

if TYPE_CHECKING:  # imported where used: this file starts without mm*
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SKIPPED = (
    75  # exit status tools/gpu_check.sh reports as 'skipped: <last line>'
)


def write_json(path: str, obj: dict) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path + '.part', 'w') as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(path + '.part', path)


def sync(device: Union[str, 'torch.device']) -> None:
    import torch

    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


# -- env ----------------------------------------------------------------------
def cmd_env(args: argparse.Namespace) -> None:
    """Machine, driver, torch, CUDA, and what the project's libraries are."""
    import torch

    info = dict(
        python=platform.python_version(),
        machine=platform.machine(),
        cpu_count=os.cpu_count(),
        torch=torch.__version__,
        torch_cuda=torch.version.cuda,
        cudnn=(
            torch.backends.cudnn.version()
            if torch.backends.cudnn.is_available()
            else None
        ),
        cuda_available=torch.cuda.is_available(),
    )
    if torch.cuda.is_available():
        prop = torch.cuda.get_device_properties(0)
        info.update(
            gpu=prop.name,
            gpu_count=torch.cuda.device_count(),
            gpu_memory_gib=round(prop.total_memory / 2**30, 1),
            capability='%d.%d' % (prop.major, prop.minor),
            sm_count=prop.multi_processor_count,
        )
        try:
            out = subprocess.run(
                [
                    'nvidia-smi',
                    '--query-gpu=driver_version',
                    '--format=csv,noheader',
                ],
                capture_output=True,
                text=True,
                timeout=20,
            )
            info['driver'] = out.stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            info['driver'] = None
    for name in (
        'mmcv',
        'mmengine',
        'mmseg',
        'mmpretrain',
        'rasterio',
        'torchvision',
        'onnxruntime',
        'mmseg_stunet',
    ):
        try:
            info[name] = __import__(name).__version__
        except Exception as e:  # noqa: BLE001 - report whatever went wrong
            info[name] = f'not importable: {type(e).__name__}'
    try:
        from mmcv.ops import get_compiling_cuda_version

        info['mmcv_ops_cuda'] = get_compiling_cuda_version()
    except Exception as e:  # noqa: BLE001
        info['mmcv_ops_cuda'] = f'no compiled ops: {type(e).__name__}'
    write_json(args.json, info)


# -- data ---------------------------------------------------------------------
def cmd_data(args: argparse.Namespace) -> None:
    """Synthetic raw ISPRS Vaihingen archives, converted into tiles."""
    from mmseg_stunet.converters.isprs import convert_isprs
    from mmseg_stunet.datasets.isprs import SPLITS
    from mmseg_stunet.testing import write_vaihingen_archives

    split = SPLITS['vaihingen']['paper']
    areas = tuple(split['train'][: args.train_areas]) + tuple(split['val'][:1])
    raw = osp.join(args.root, 'raw')
    write_vaihingen_archives(raw, areas, (args.area_size, args.area_size))
    summary = convert_isprs(
        'vaihingen',
        raw,
        osp.join(args.root, 'data'),
        size=args.tile,
        progress=False,
        allow_missing=True,
    )
    print(
        f'{summary.tiles["train"]} train tiles of {args.tile} px from '
        f'{len(areas) - 1} synthetic areas of {args.area_size} px'
    )
    write_predict_inputs(
        osp.join(args.root, 'predict'),
        args.scene,
        osp.join(ROOT, PREDICT_CONFIG),
    )


PREDICT_CONFIG = 'configs/st_unet/st-unet_1xb8-100e_vaihingen-256x256.py'


def write_predict_inputs(folder: str, size: int, config: str) -> None:
    """A ``size`` x ``size`` IRRG GeoTIFF (a synthetic 1024 scene tiled) and
    a checkpoint of ``config``'s model with its random initial weights."""
    import numpy as np
    import rasterio
    import torch
    from mmseg.apis import init_model

    from mmseg_stunet.datasets.isprs import ISPRS_CLASSES, ISPRS_PALETTE
    from mmseg_stunet.testing.synthetic_isprs import make_scene

    os.makedirs(folder, exist_ok=True)
    model = init_model(config, None, 'cpu')
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(
                dataset_meta=dict(
                    classes=ISPRS_CLASSES,
                    palette=[list(c) for c in ISPRS_PALETTE],
                )
            ),
        ),
        osp.join(folder, 'random_init.pth'),
    )
    side = min(1024, size)
    bands, _ = make_scene(side, side, np.random.default_rng(0))
    irrg = np.ascontiguousarray(bands[..., [3, 0, 1]].transpose(2, 0, 1))
    reps = -(-size // side)
    scene = np.tile(irrg, (1, reps, reps))[:, :size, :size]
    with rasterio.open(
        osp.join(folder, 'scene.tif'),
        'w',
        driver='GTiff',
        width=size,
        height=size,
        count=3,
        dtype='uint8',
        tiled=True,
        blockxsize=256,
        blockysize=256,
    ) as dst:
        dst.write(scene)


# -- train --------------------------------------------------------------------
def train_cfg(
    config: str,
    data: str,
    work_dir: str,
    batch: int,
    crop: int,
    iters: int,
    workers: int,
) -> 'Config':
    """The config as it is (model, loss, optimiser, AMP setting), trained
    for ``iters`` iterations on ``data`` with ``crop`` crops: no validation,
    no checkpoints, the poly schedule over the short run."""
    from mmseg_stunet.engine.runner import load_config

    cfg = load_config(config, None, work_dir)
    loader = cfg.train_dataloader
    loader.batch_size = batch
    loader.num_workers = workers
    loader.persistent_workers = workers > 0
    loader.sampler = dict(type='InfiniteSampler', shuffle=True)
    loader.dataset.data_root = data
    for step in loader.dataset.pipeline:
        if step.type == 'RandomCrop':
            step.crop_size = (crop, crop)
    cfg.model.data_preprocessor.size = (crop, crop)
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=iters, val_interval=iters + 1
    )
    cfg.param_scheduler = [
        dict(
            type='PolyLR',
            power=0.9,
            eta_min=0.0,
            begin=0,
            end=iters,
            by_epoch=False,
        )
    ]
    for key in (
        'val_dataloader',
        'val_evaluator',
        'val_cfg',
        'test_dataloader',
        'test_evaluator',
        'test_cfg',
    ):
        cfg[key] = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10)
    cfg.log_processor = dict(by_epoch=False)
    cfg.randomness = dict(seed=0)
    return cfg


def cmd_train(args: argparse.Namespace) -> None:
    """Train each ``--run NAME CONFIG`` for a short run, in this one process
    (one start-up), and measure it; a run that fails does not stop the
    next. Exit 1 naming the failed runs."""
    failed = []
    for name, config in args.run:
        config = config if osp.isabs(config) else osp.join(ROOT, config)
        try:
            res = train_one(args, name, config)
        except Exception as e:  # noqa: BLE001 - reported, next run goes on
            res = dict(
                config=osp.relpath(config, ROOT),
                error=f'{type(e).__name__}: {e}'.splitlines()[0],
            )
        write_json(osp.join(args.results, f'{name}.json'), res)
        print(json.dumps(res), flush=True)
        if 'skipped' in res:
            continue
        if 'error' in res:
            failed.append(f'{name} ({res["error"]})')
        elif not res['finite'] or (args.require_fall and not res['loss_fell']):
            failed.append(
                f'{name} (loss {res["loss_first"]} -> '
                f'{res["loss_last"]}, finite={res["finite"]})'
            )
    if failed:
        sys.exit('error: ' + '; '.join(failed))


def train_one(args: argparse.Namespace, name: str, config: str) -> dict:
    """One measured run of ``config`` (see :func:`train_cfg`)."""
    import torch
    from mmengine.config import Config
    from mmengine.hooks import Hook

    from mmseg_stunet.engine.runner import build_runner

    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if device == 'cpu' and 'MixedPrecision' in str(
        Config.fromfile(config).optim_wrapper.get('type')
    ):
        from mmseg_stunet.engine.optim_wrapper import cpu_bf16_support

        if cpu_bf16_support() != 'native':
            return dict(
                config=osp.relpath(config, ROOT),
                skipped='CPU mixed precision needs bfloat16 '
                'instructions, which this CPU lacks',
            )
    cfg = train_cfg(
        config,
        args.data,
        osp.join(args.work_dir, name),
        args.batch,
        args.crop,
        args.iters,
        args.workers,
    )
    cfg.experiment_name = f'gpu_check_{name}'
    rec: Dict[str, list] = dict(loss=[], step_s=[], scale=[], skipped=[])
    wall = dict()

    class Probe(Hook):
        """Loss, step time and loss scale of every iteration; stops the run
        at ``--max-seconds``."""

        priority = 'VERY_LOW'

        def before_train_iter(
            self,
            runner: 'Runner',
            batch_idx: int,
            data_batch: Optional[Union[dict, tuple, list]] = None,
        ) -> None:
            scaler = getattr(runner.optim_wrapper, 'loss_scaler', None)
            self.scale = scaler.get_scale() if scaler is not None else None
            sync(device)
            self.t0 = time.perf_counter()
            wall.setdefault('start', self.t0)

        def after_train_iter(
            self,
            runner: 'Runner',
            batch_idx: int,
            data_batch: Optional[Union[dict, tuple, list]] = None,
            outputs: Optional[dict] = None,
        ) -> None:
            sync(device)
            now = time.perf_counter()
            rec['step_s'].append(now - self.t0)
            rec['loss'].append(float(outputs['loss']))
            scaler = getattr(runner.optim_wrapper, 'loss_scaler', None)
            if scaler is not None:
                scale = scaler.get_scale()
                rec['scale'].append(scale)
                # GradScaler halves the scale exactly when it skips a step
                rec['skipped'].append(scale < self.scale)
            wall['end'] = now
            if now - wall['start'] > args.max_seconds:
                runner.train_loop.stop_training = True

    runner = build_runner(cfg)
    runner.register_hook(Probe())
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    runner.train()
    total = time.perf_counter() - t
    losses = rec['loss']
    n = len(losses)
    warm = min(5, n // 3)  # the first steps pick kernels and warm caches
    steps = rec['step_s'][warm:]
    k = max(1, min(10, n // 3))
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    finite = all(math.isfinite(v) for v in losses)
    out = dict(
        config=osp.relpath(config, ROOT),
        device=device,
        optim_wrapper=type(runner.optim_wrapper).__name__,
        amp=bool(rec['scale'])
        or 'MixedPrecision' in str(cfg.optim_wrapper.type),
        batch=args.batch,
        crop=args.crop,
        iterations=n,
        params_m=round(
            sum(p.numel() for p in runner.model.parameters()) / 1e6, 2
        ),
        loss_first=round(first, 4),
        loss_last=round(last, 4),
        loss_every_10=[round(v, 4) for v in losses[::10]],
        finite=finite,
        loss_fell=finite and last < first,
        images_per_s_step=(
            round(args.batch * len(steps) / sum(steps), 2) if steps else None
        ),
        images_per_s_wall=(
            round(args.batch * (n - 1) / (wall['end'] - wall['start']), 2)
            if n > 1
            else None
        ),
        ms_per_iter_median=(
            round(sorted(steps)[len(steps) // 2] * 1e3, 1) if steps else None
        ),
        seconds_total=round(total, 1),
        gradscaler_skipped_steps=sum(rec['skipped']) if rec['scale'] else None,
        gradscaler_final_scale=rec['scale'][-1] if rec['scale'] else None,
    )
    if device == 'cuda':
        out['peak_gpu_memory_gib'] = round(
            torch.cuda.max_memory_allocated() / 2**30, 2
        )
        out['peak_gpu_reserved_gib'] = round(
            torch.cuda.max_memory_reserved() / 2**30, 2
        )
        del runner
        torch.cuda.empty_cache()
    return out


# -- dcn ----------------------------------------------------------------------
def cmd_dcn(args: argparse.Namespace) -> None:
    """tools/benchmarks/bench_dcn.py at the ST-UNet stage shapes, and the
    back-end that ``auto`` picks."""
    import torch

    from mmseg_stunet.models.layers.dcn import resolve_backend

    device = torch.device(
        args.device
        if torch.cuda.is_available() or args.device == 'cpu'
        else 'cpu'
    )
    cmd = [
        sys.executable,
        osp.join(ROOT, 'tools', 'benchmarks', 'bench_dcn.py'),
        '--device',
        str(device),
        '--batch',
        str(args.batch),
        '--repeat',
        str(args.repeat),
        '--shapes',
        *args.shapes,
        '--json',
        args.json,
    ] + (['--no-memory'] if args.no_memory else [])
    print('$ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    with open(args.json) as f:
        res = json.load(f)
    res['auto_picks'] = resolve_backend('auto', device)
    write_json(args.json, res)


# -- predict ------------------------------------------------------------------
def cmd_predict(args: argparse.Namespace) -> None:
    """tools/predict.py on the data step's scene with the paper model's
    random initial weights; its own throughput line (model building
    excluded) gives Mpx/s. This process imports nothing heavy."""
    import re

    folder = osp.join(args.root, 'predict')
    scene = osp.join(folder, 'scene.tif')
    cmd = [
        sys.executable,
        osp.join(ROOT, 'tools', 'predict.py'),
        osp.join(ROOT, PREDICT_CONFIG),
        osp.join(folder, 'random_init.pth'),
        scene,
        '--out-dir',
        osp.join(folder, 'out'),
        '--device',
        args.device,
        '--batch-size',
        str(args.batch),
        '--no-preview',
        '--no-progress',
    ]
    print('$ ' + ' '.join(cmd), flush=True)
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr[-4000:])
    if proc.returncode != 0:
        sys.exit(proc.returncode)
    m = re.search(
        r'predicted (\d+) scene\(s\), ([\d.]+) Mpx in ([\d.]+) s '
        r'\(([\d.]+) Mpx/s\)',
        proc.stderr,
    )
    if m is None:
        sys.exit('error: tools/predict.py printed no throughput line')
    import rasterio

    with rasterio.open(scene) as src:
        size = [src.height, src.width]
    with rasterio.open(osp.join(folder, 'out', 'scene.tif')) as out:
        classes = out.read(1)
    res = dict(
        device=args.device,
        config=PREDICT_CONFIG,
        scene_px=size,
        batch=args.batch,
        mpx=float(m.group(2)),
        seconds=float(m.group(3)),
        mpx_per_s=float(m.group(4)),
        command_seconds=round(seconds, 1),
        class_map_shape=list(classes.shape),
    )
    write_json(args.json, res)
    print(json.dumps(res))
    if list(classes.shape) != size:
        sys.exit(f'error: class map {classes.shape} for a scene of {size}')


# -- report -------------------------------------------------------------------
STEP_TITLES = {
    'install': 'install (offline, mmcv CPU ops)',
    'env': 'environment',
    'cuda_tests': "the suite's CUDA cases",
    'data': 'synthetic ISPRS data',
    'train': 'training runs (one process)',
    'dcn': 'DeformConvV2 at the ST-UNet stage shapes',
    'predict': 'scene prediction',
    'mmcv_cuda_ops': 'mmcv CUDA ops build',
}


TRAIN_TITLES = {
    'train_stunet_amp': 'ST-UNet paper setting, AMP',
    'train_stunet_fp32': 'ST-UNet paper setting, fp32',
    'train_deeplabv3plus_amp': 'DeepLabV3+ R-50, AMP',
}


def _load(path: str) -> Optional[dict]:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f'{v:.4g}'
    return '' if v is None else str(v)


def cmd_report(args: argparse.Namespace) -> None:
    """gpu_report.json and gpu_report.md from the steps' files."""
    steps: List[dict] = []
    for path in sorted(
        glob.glob(osp.join(args.work, 'status', '*.json')), key=osp.getmtime
    ):
        st = _load(path) or {}
        st['results'] = _load(
            osp.join(args.work, 'results', st.get('name', '') + '.json')
        )
        steps.append(st)
    env = next((s['results'] for s in steps if s.get('name') == 'env'), None)
    report = dict(
        mode=args.mode,
        budget_s=args.budget,
        seconds_total=round(sum(s.get('seconds', 0) for s in steps), 1),
        environment=env,
        steps=steps,
    )
    write_json(osp.join(args.out, 'gpu_report.json'), report)

    md = [f'# GPU check ({args.mode})', '']
    if env:
        md.append('| | |')
        md.append('|---|---|')
        for key in (
            'gpu',
            'capability',
            'gpu_memory_gib',
            'driver',
            'cpu_count',
            'python',
            'torch',
            'torch_cuda',
            'cudnn',
            'mmcv',
            'mmcv_ops_cuda',
            'mmengine',
            'mmseg',
            'torchvision',
            'mmseg_stunet',
        ):
            if key in env:
                md.append(f'| {key} | {_fmt(env[key])} |')
        md.append('')
    md += [
        f'Budget {args.budget} s; steps took '
        f'{report["seconds_total"]} s in all.',
        '',
        '| step | status | seconds | budget s |',
        '|---|---|---|---|',
    ]
    for s in steps:
        md.append(
            f'| {STEP_TITLES.get(s.get("name"), s.get("name"))} | '
            f'{s.get("status")} | {_fmt(s.get("seconds"))} | '
            f'{_fmt(s.get("budget"))} |'
        )
    train = [
        (osp.basename(p)[:-5], _load(p))
        for p in sorted(
            glob.glob(osp.join(args.work, 'results', 'train_*.json'))
        )
    ]
    report['training'] = dict(train)
    write_json(osp.join(args.out, 'gpu_report.json'), report)
    if train:
        md += [
            '',
            '## Training (synthetic ISPRS, from scratch)',
            '',
            '| run | batch x crop | iters | loss first -> last | images/s '
            '(step) | images/s (wall) | peak GPU GiB | GradScaler skipped |',
            '|---|---|---|---|---|---|---|---|',
        ]
        for name, r in train:
            title = TRAIN_TITLES.get(name, name)
            if 'iterations' not in r:
                why = r.get('skipped') or r.get('error')
                md.append(f'| {title} | {why} |' + ' |' * 6)
                continue
            md.append(
                f'| {title} | '
                f'{r["batch"]} x {r["crop"]} | {r["iterations"]} | '
                f'{r["loss_first"]} -> {r["loss_last"]} | '
                f'{_fmt(r["images_per_s_step"])} | '
                f'{_fmt(r["images_per_s_wall"])} | '
                f'{_fmt(r.get("peak_gpu_memory_gib"))} | '
                f'{_fmt(r["gradscaler_skipped_steps"])} |'
            )
    dcn = next(
        (
            s['results']
            for s in steps
            if s.get('name') == 'dcn' and s['results']
        ),
        None,
    )
    if dcn:
        impls = dcn['impls']
        md += [
            '',
            f'## DeformConvV2, fwd+bwd, batch {dcn["batch"]}, '
            f'ms (best of {dcn["repeat"]}); `auto` picks '
            f'`{dcn.get("auto_picks")}`',
            '',
            '| (C, H) | ' + ' | '.join(impls) + ' |',
            '|---|' + '---|' * len(impls),
        ]
        for shape, row in dcn['results'].items():
            md.append(
                f'| {shape} | '
                + ' | '.join(
                    _fmt(row[i]['time'] * 1e3)
                    if 'time' in row.get(i, {})
                    else 'n/a'
                    for i in impls
                )
                + ' |'
            )
        notes = [
            f'{i} at {shape}: {row[i]["error"]}'
            for shape, row in dcn['results'].items()
            for i in impls
            if 'error' in row.get(i, {})
        ]
        if notes:
            md += [''] + [f'- {n}' for n in sorted(set(notes))[:6]]
    pred = next(
        (
            s['results']
            for s in steps
            if s.get('name') == 'predict' and s['results']
        ),
        None,
    )
    if pred:
        md += [
            '',
            '## Scene prediction',
            '',
            f'tools/predict.py, {pred["scene_px"][0]}x{pred["scene_px"][1]} '
            f'px synthetic GeoTIFF, `{pred["config"]}` (random weights), '
            f'batch {pred["batch"]}: **{pred["mpx_per_s"]} Mpx/s** '
            f'({pred["seconds"]} s predicting; the whole command with '
            f'start-up and model building {pred["command_seconds"]} s).',
        ]
    with open(osp.join(args.out, 'gpu_report.md'), 'w') as f:
        f.write('\n'.join(md) + '\n')
    print('\n'.join(md))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('env')
    p.add_argument('--json', required=True)
    p = sub.add_parser('data')
    p.add_argument('--root', required=True)
    p.add_argument('--area-size', type=int, default=512)
    p.add_argument('--tile', type=int, default=256)
    p.add_argument('--train-areas', type=int, default=4)
    p.add_argument(
        '--scene',
        type=int,
        default=4096,
        help='side of the GeoTIFF for the prediction step',
    )
    p = sub.add_parser('train')
    p.add_argument(
        '--run',
        nargs=2,
        action='append',
        required=True,
        metavar=('NAME', 'CONFIG'),
    )
    p.add_argument('--data', required=True)
    p.add_argument('--work-dir', required=True)
    p.add_argument('--results', required=True)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--crop', type=int, default=256)
    p.add_argument('--iters', type=int, default=300)
    p.add_argument('--max-seconds', type=float, default=28.0)
    p.add_argument('--workers', type=int, default=4)
    p.add_argument(
        '--require-fall',
        action='store_true',
        help='fail unless the loss of the last 10 iterations is '
        'below that of the first 10',
    )
    p = sub.add_parser('dcn')
    p.add_argument('--json', required=True)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--repeat', type=int, default=10)
    p.add_argument('--device', default='cuda')
    p.add_argument('--no-memory', action='store_true')
    p.add_argument(
        '--shapes', nargs='+', default=['128x64', '256x32', '512x16', '1024x8']
    )
    p = sub.add_parser('predict')
    p.add_argument('--root', required=True)
    p.add_argument('--json', required=True)
    p.add_argument('--device', default='cuda')
    p.add_argument('--batch', type=int, default=16)
    p = sub.add_parser('report')
    p.add_argument('--work', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--mode', default='gpu')
    p.add_argument('--budget', type=int, default=0)
    args = parser.parse_args()
    globals()['cmd_' + args.cmd](args)


if __name__ == '__main__':
    main()
