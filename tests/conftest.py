import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run_tool(args, cwd=REPO, timeout=600):
    """Run ``python ARGS`` (a repo tool or module) and return its output.

    Fails the test with the tool's output if it exits non-zero.
    """
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='2')
    proc = subprocess.run([sys.executable, *args],
                          cwd=cwd,
                          env=env,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f'{" ".join(args)} exited {proc.returncode}:\n'
                    f'{proc.stdout[-6000:]}')
    return proc.stdout


def write_shapes_dataset(root, splits=(('train', 6), ('val', 2)), size=32,
                         seed=0):
    """Images of a red square and a green disc on noise, with label maps
    0 (background), 1 (square), 2 (disc) in MMSegmentation's layout."""
    import cv2
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    for split, count in splits:
        os.makedirs(osp.join(root, 'img_dir', split), exist_ok=True)
        os.makedirs(osp.join(root, 'ann_dir', split), exist_ok=True)
        for i in range(count):
            img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
            ann = np.zeros((size, size), np.uint8)
            x0, y0 = rng.integers(2, size // 2, 2)
            ann[y0:y0 + size // 3, x0:x0 + size // 3] = 1
            cx, cy = rng.integers(size // 4, 3 * size // 4, 2)
            ann[(yy - cy)**2 + (xx - cx)**2 < (size // 6)**2] = 2
            img[ann == 1] = (40, 40, 220)  # BGR red
            img[ann == 2] = (40, 220, 40)
            cv2.imwrite(osp.join(root, 'img_dir', split, f'{i}.png'), img)
            cv2.imwrite(osp.join(root, 'ann_dir', split, f'{i}.png'), ann)
    return root
