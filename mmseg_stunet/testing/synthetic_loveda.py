"""Small LoveDA-format data for the tests: ``Train.zip`` / ``Val.zip`` /
``Test.zip`` as LoveDA distributes them, or the converted layout."""

import os
import os.path as osp
import zipfile
from typing import Dict, Tuple

import cv2
import numpy as np

from ..datasets.loveda import LOVEDA_DOMAINS, LOVEDA_PALETTE

#: images per archive and domain: {archive: {domain: count}}
DEFAULT_COUNTS = {
    'Train': {'Urban': 4, 'Rural': 4},
    'Val': {'Urban': 2, 'Rural': 2},
    'Test': {'Urban': 1, 'Rural': 1},
}


def make_loveda_sample(
    size: int, rng: np.random.Generator, nodata: bool = True
) -> Tuple[np.ndarray, np.ndarray]:
    """One ``(image, mask)``: (size, size, 3) uint8 BGR image of blocks
    coloured by class (plus noise) and the (size, size) uint8 mask with
    LoveDA's values, 1..7 for the classes (every class present) and, if
    ``nodata``, a strip of 0 (no-data) along the left border."""
    cells = 4
    block = -(-size // cells)
    grid = (
        rng.permutation(np.arange(cells * cells) % 7 + 1)
        .reshape(cells, cells)
        .astype(np.uint8)
    )
    mask = np.kron(grid, np.ones((block, block), np.uint8))[:size, :size]
    if nodata:
        mask[:, : max(1, size // 16)] = 0
    colours = np.array(
        [(0, 0, 0)] + [c[::-1] for c in LOVEDA_PALETTE], np.float32
    )  # BGR, no-data black
    img = colours[mask] * 0.7 + rng.normal(0, 12, (size, size, 3))
    return np.clip(img, 0, 255).astype(np.uint8), mask


def _png(array: np.ndarray) -> bytes:
    ok, buf = cv2.imencode('.png', array)
    assert ok, 'OpenCV failed to encode a PNG'
    return buf.tobytes()


def write_loveda_archives(
    out_dir: str,
    counts: Dict[str, Dict[str, int]] = None,
    size: int = 64,
    seed: int = 0,
) -> Dict[str, np.ndarray]:
    """Write ``Train.zip``, ``Val.zip``, ``Test.zip`` (those in ``counts``)
    into ``out_dir`` with ``<Archive>/<Domain>/images_png/<n>.png`` and, but
    for Test, ``masks_png/<n>.png``; images are numbered across archives
    and domains, as LoveDA's are.

    Returns:
        dict: image name (``'<n>.png'``) -> its mask (LoveDA values).
    """
    counts = DEFAULT_COUNTS if counts is None else counts
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    masks, n = {}, 0
    for archive, domains in counts.items():
        with zipfile.ZipFile(osp.join(out_dir, f'{archive}.zip'), 'w') as zf:
            for domain in LOVEDA_DOMAINS:
                for _ in range(domains.get(domain, 0)):
                    img, mask = make_loveda_sample(size, rng)
                    name = f'{n}.png'
                    base = f'{archive}/{domain}'
                    zf.writestr(f'{base}/images_png/{name}', _png(img))
                    if archive != 'Test':
                        zf.writestr(f'{base}/masks_png/{name}', _png(mask))
                    masks[name] = mask
                    n += 1
    return masks


def write_loveda_layout(
    root: str,
    counts: Dict[str, int] = (('train', 8), ('val', 2)),
    size: int = 64,
    seed: int = 0,
) -> str:
    """The converted layout (``img_dir/<split>``, ``ann_dir/<split>``)
    written directly, for tests of the data set and the configs."""
    rng = np.random.default_rng(seed)
    n = 0
    for split, count in dict(counts).items():
        for sub in ('img_dir', 'ann_dir'):
            os.makedirs(osp.join(root, sub, split), exist_ok=True)
        for _ in range(count):
            img, mask = make_loveda_sample(size, rng)
            cv2.imwrite(osp.join(root, 'img_dir', split, f'{n}.png'), img)
            cv2.imwrite(osp.join(root, 'ann_dir', split, f'{n}.png'), mask)
            n += 1
    return root
