"""ST-UNet vs MMSegmentation's DeepLabV3+ R-50-D8: train step, inference,
peak memory and parameters, in one run (one subprocess per model and
setting, so peak RSS is per model).

    python tools/benchmarks/bench_stunet.py          # fp32, both models
    python tools/benchmarks/bench_stunet.py --variants fp32 cl cl+bf16

Settings: batch 4, 256x256, 6 classes, SGD (momentum 0.9, wd 1e-4);
``cl`` = channels-last model and input, ``bf16`` = CPU autocast to bfloat16.
Figures are medians over ``--iters`` timed iterations after one warm-up:
wall-clock seconds and process CPU seconds (all threads; on a shared
machine the CPU time is the steadier figure).
"""
import argparse
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def build(name, dcn):
    from mmengine import Config
    from mmengine.registry import init_default_scope

    import mmseg_stunet  # noqa: F401
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    if name == 'stunet':
        cfg = Config.fromfile(
            osp.join(REPO, 'configs/_base_/models/st_unet.py'))
        cfg.model.backbone.dcn_cfg = dict(type=dcn)
    else:
        cfg = Config.fromfile(
            osp.join(osp.dirname(__import__('mmseg').__file__), '.mim',
                     'configs/_base_/models/deeplabv3plus_r50-d8.py'))
        cfg.model.pretrained = None
        bn = dict(type='BN', requires_grad=True)
        cfg.model.backbone.norm_cfg = bn
        cfg.model.decode_head.norm_cfg = bn
        cfg.model.auxiliary_head.norm_cfg = bn
        cfg.model.decode_head.num_classes = 6
        cfg.model.auxiliary_head.num_classes = 6
    cfg.model.pop('data_preprocessor', None)
    return MODELS.build(cfg.model)


def worker(args):
    import torch
    from mmengine.structures import PixelData

    from mmseg.structures import SegDataSample
    torch.manual_seed(0)
    model = build(args.model, args.dcn)
    cl = 'cl' in args.variant
    amp = 'bf16' in args.variant
    fmt = torch.channels_last if cl else torch.contiguous_format
    model = model.to(memory_format=fmt)
    n_params = sum(p.numel() for p in model.parameters())
    B, H, W = 4, 256, 256
    x = torch.randn(B, 3, H, W).contiguous(memory_format=fmt)
    samples = [
        SegDataSample(
            gt_sem_seg=PixelData(data=torch.randint(0, 6, (1, H, W))),
            metainfo=dict(img_shape=(H, W), ori_shape=(H, W)))
        for _ in range(B)
    ]
    metas = [s.metainfo for s in samples]
    opt = torch.optim.SGD(model.parameters(),
                          lr=0.01,
                          momentum=0.9,
                          weight_decay=1e-4)

    def train_step():
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=amp):
            losses = model.loss(x, samples)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def infer():
        with torch.inference_mode(), torch.autocast('cpu',
                                                    dtype=torch.bfloat16,
                                                    enabled=amp):
            return model.encode_decode(x, metas)

    def timed(fn):
        fn()  # warm-up
        ts, cpu = [], []
        for _ in range(args.iters):
            t, c = time.perf_counter(), time.process_time()
            fn()
            ts.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        return statistics.median(ts), statistics.median(cpu)

    torch.set_num_threads(args.threads)
    model.train()
    t_train, c_train = timed(train_step)
    model.eval()
    t_infer, c_infer = timed(infer)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        json.dumps(
            dict(model=args.model,
                 variant=args.variant,
                 train_s=t_train,
                 infer_s=t_infer,
                 train_cpu=c_train,
                 infer_cpu=c_infer,
                 rss_gb=rss,
                 params_m=n_params / 1e6)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--models', nargs='+', default=['stunet', 'deeplabv3plus'])
    p.add_argument('--variants',
                   nargs='+',
                   default=['fp32'],
                   help='fp32, cl, bf16, cl+bf16')
    p.add_argument('--iters', type=int, default=3)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--dcn',
                   default='DeformConvV2',
                   help="RAM's deformable conv type (e.g. mmcv's DCNv2)")
    p.add_argument('--model', help=argparse.SUPPRESS)
    p.add_argument('--variant', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.model:
        return worker(args)
    import torch
    print(f'torch {torch.__version__}, {args.threads} threads, '
          f'{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; '
          f'batch 4, 256x256, median of {args.iters}')
    rows = []
    for variant in args.variants:
        for model in args.models:
            out = subprocess.run([
                sys.executable, __file__, '--model', model, '--variant',
                variant, '--iters',
                str(args.iters), '--dcn', args.dcn, '--threads',
                str(args.threads)
            ],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE,
                                 text=True)
            if out.returncode:
                print(f'{model} {variant} failed:\n{out.stderr[-3000:]}')
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f'{"model":<14}{"variant":<10}{"train s":>9}{"infer s":>9}'
          f'{"train cpu":>11}{"infer cpu":>11}{"RSS GB":>8}{"params M":>10}')
    for r in rows:
        print(f'{r["model"]:<14}{r["variant"]:<10}{r["train_s"]:>9.2f}'
              f'{r["infer_s"]:>9.2f}{r["train_cpu"]:>11.2f}'
              f'{r["infer_cpu"]:>11.2f}{r["rss_gb"]:>8.2f}'
              f'{r["params_m"]:>10.2f}')
    for variant in args.variants:
        got = {r['model']: r for r in rows if r['variant'] == variant}
        if {'stunet', 'deeplabv3plus'} <= got.keys():
            s, d = got['stunet'], got['deeplabv3plus']
            print(f'{variant}: ST-UNet / DeepLabV3+  wall: train '
                  f'{s["train_s"] / d["train_s"]:.2f}x, infer '
                  f'{s["infer_s"] / d["infer_s"]:.2f}x; CPU: train '
                  f'{s["train_cpu"] / d["train_cpu"]:.2f}x, infer '
                  f'{s["infer_cpu"] / d["infer_cpu"]:.2f}x; RSS '
                  f'{s["rss_gb"] / d["rss_gb"]:.2f}x')


if __name__ == '__main__':
    main()
