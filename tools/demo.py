"""The whole path on a fresh machine, without the licence-restricted data.

    python tools/demo.py [--work-dir work_dirs/demo] [--iters 600]

1. draws a small synthetic data set in the raw ISPRS Vaihingen format
   (zip archives of IRRG ``top_mosaic_09cm_areaN.tif`` and colour-coded full
   and eroded ground truth, paper train/test areas);
2. converts it with ``tools/dataset_converters/vaihingen.py``;
3. trains the reduced-width ST-UNet of
   ``configs/st_unet/st-unet-tiny_1xb8-600iter_synthetic-vaihingen-128x128.py`` on CPU
   with ``tools/train.py`` (progress and ETA in the log; a re-run resumes,
   or skips training when the run is complete);
4. evaluates it with ``tools/test.py`` (ISPRSMetric: OA, mIoU, mF1);
5. writes ``metrics.json`` and, per test area, ``vis/areaN.png``: image,
   ground truth and prediction side by side in ISPRS colours.
"""

import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import List, Sequence, Tuple

from mmseg_stunet.engine.errors import run_tool_main
from mmseg_stunet.utils.cli import int_range, positive_int
from mmseg_stunet.utils.paths import (
    check_output_kinds,
    config_path,
    project_root,
)

# numpy, cv2, torch and MMSegmentation are imported where they are used,
# after parsing (fast --help)

ROOT = project_root()
CONFIG = config_path(
    'st_unet', 'st-unet-tiny_1xb8-600iter_synthetic-vaihingen-128x128.py'
)


def demo_areas() -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """(train areas, test areas): the paper's Vaihingen split, three of
    its five test areas to keep the demo short."""
    from mmseg_stunet.datasets.isprs import SPLITS

    split = SPLITS['vaihingen']['paper']
    return tuple(split['train']), tuple(split['val'][:3])


def run(cmd: List[str]) -> None:
    """Run a step; a failed step has said why (one line): stop with its
    exit status and no second message."""
    print('$ ' + ' '.join(cmd), flush=True)
    code = subprocess.run(cmd, cwd=ROOT).returncode
    if code:
        sys.exit(code)


def write_panels(
    data: str, pred_dir: str, vis_dir: str, areas: Sequence[int]
) -> List[str]:
    """Image | ground truth | prediction per test area, ISPRS colours."""
    import cv2
    import numpy as np

    from mmseg_stunet.converters.isprs import stitch_tiles
    from mmseg_stunet.datasets.isprs import LABEL_COLOURS

    os.makedirs(vis_dir, exist_ok=True)
    palette_bgr = np.asarray(LABEL_COLOURS, np.uint8)[:, ::-1]
    paths = []
    for area in areas:
        img = stitch_tiles(osp.join(data, 'img_dir', 'val'), f'area{area}')
        gt = palette_bgr[
            stitch_tiles(osp.join(data, 'ann_dir', 'val'), f'area{area}')
        ]
        pred = stitch_tiles(pred_dir, f'area{area}')  # already BGR colour PNGs
        gap = np.full((img.shape[0], 8, 3), 255, np.uint8)
        path = osp.join(vis_dir, f'area{area}.png')
        cv2.imwrite(path, np.concatenate([img, gap, gt, gap, pred], 1))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'demo'))
    parser.add_argument(
        '--iters',
        type=positive_int,
        default=600,
        help='training iterations (batch 8, 128x128 tiles)',
    )
    parser.add_argument(
        '--area-size',
        type=int_range(128),
        default=384,
        help='side of each synthetic area in pixels (at '
        'least one 128 px tile)',
    )
    args = parser.parse_args()
    check_output_kinds({'--work-dir': args.work_dir})
    from mmseg_stunet.converters.isprs import convert_isprs
    from mmseg_stunet.engine.checkpoint import read_checkpoint
    from mmseg_stunet.testing import write_vaihingen_archives

    train_areas, test_areas = demo_areas()
    work = osp.abspath(args.work_dir)
    raw, data = osp.join(work, 'raw'), osp.join(work, 'data')
    start = time.time()

    print(f'[1/5] synthetic raw ISPRS Vaihingen archives -> {raw}', flush=True)
    if not osp.exists(osp.join(raw, 'ISPRS_semantic_labeling_Vaihingen.zip')):
        write_vaihingen_archives(
            raw, train_areas + test_areas, (args.area_size, args.area_size)
        )

    print(
        f'[2/5] converting (same as: python tools/dataset_converters/'
        f'vaihingen.py {raw} -o {data} --size 128 --allow-missing)',
        flush=True,
    )
    # three of the five test areas, to keep the demo short
    s = convert_isprs('vaihingen', raw, data, size=128, allow_missing=True)
    print(f'{s.tiles["train"]} train and {s.tiles["val"]} test tiles')

    print('[3/5] training the reduced-width ST-UNet on CPU', flush=True)
    options = [
        '--cfg-options',
        f'train_dataloader.dataset.data_root={data}',
        f'val_dataloader.dataset.data_root={data}',
        f'test_dataloader.dataset.data_root={data}',
        f'train_cfg.max_iters={args.iters}',
        f'train_cfg.val_interval={args.iters}',
    ]
    train = [sys.executable, 'tools/train.py', CONFIG, '--work-dir', work]
    last = osp.join(work, 'last_checkpoint')
    done = 0
    if osp.exists(last):
        train.append('--resume')  # a re-run continues where it stopped
        with open(last) as f:
            done = read_checkpoint(f.read().strip())['meta']['iter']
    if done < args.iters:  # train.py refuses to resume a finished run
        run(train + options)
    else:
        print(f'already trained for {done} iterations', flush=True)

    print('[4/5] testing with tools/test.py', flush=True)
    with open(osp.join(work, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    pred_dir = osp.join(work, 'pred')
    test_dir = osp.join(work, 'test')
    run(
        [
            sys.executable,
            'tools/test.py',
            CONFIG,
            ckpt,
            '--work-dir',
            test_dir,
            '--out',
            pred_dir,
        ]
        + options
    )

    print('[5/5] metrics and colour-coded predictions', flush=True)
    logs = sorted(
        glob.glob(osp.join(test_dir, '*', '*.json')), key=osp.getmtime
    )
    with open(logs[-1]) as f:
        metrics = json.load(f)
    metrics = {k: v for k, v in metrics.items() if k != 'step'}
    with open(osp.join(work, 'metrics.json'), 'w') as f:
        json.dump(metrics, f, indent=2)
    panels = write_panels(data, pred_dir, osp.join(work, 'vis'), test_areas)
    print(
        f'OA {metrics["OA"]:.2f}  mIoU {metrics["mIoU"]:.2f}  '
        f'mF1 {metrics["mF1"]:.2f}  (five classes, clutter excluded; '
        f'chance mIoU is about 10)'
    )
    print(f'metrics: {osp.join(work, "metrics.json")}')
    print('image | ground truth | prediction: ' + ', '.join(panels))
    print(f'done in {(time.time() - start) / 60:.1f} min')


if __name__ == '__main__':
    run_tool_main(main)
