"""Procedural aerial scenes written in the raw ISPRS archive format.

The ISPRS data are licence-restricted, so tests and the demo run on scenes
drawn here: roads and paved lots, buildings with gabled roofs and cast
shadows, grass, tree crowns, cars on the roads and clutter (water, soil,
debris). Bands are simulated as (R, G, B, NIR); Vaihingen archives get the
IRRG composite (NIR, R, G), Potsdam archives get RGB, IRRG and RGBIR files.
Grey roofs and pavement share colours, and tree crowns and grass share
their spectrum, so a model needs shape and texture, not only colour.

Example::

    from mmseg_stunet.testing import write_vaihingen_archives
    write_vaihingen_archives('raw/', areas=(1, 3, 11), size=(512, 640))
"""

import os
import os.path as osp
import zipfile
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

from ..datasets.isprs import ISPRS_PALETTE, LABEL_COLOURS
from ..utils.atomic import atomic_write

# Class indices of the label map returned by ``make_scene`` (ISPRS order).
IMPERVIOUS, BUILDING, LOW_VEG, TREE, CAR, CLUTTER = range(6)

# Mean reflectances (R, G, B, NIR) per material, 0-255.
_PAVEMENT = [(105, 105, 103, 95), (150, 148, 140, 130), (125, 120, 112, 110)]
_ROOFS = [
    (150, 150, 148, 135),
    (75, 78, 86, 68),
    (155, 75, 62, 118),
    (120, 96, 82, 108),
    (112, 112, 108, 100),
]
_GRASS = [(92, 128, 70, 190), (130, 132, 88, 158), (78, 112, 62, 205)]
_TREE = (52, 82, 46, 168)
_CLUTTER = [(38, 50, 62, 18), (152, 122, 92, 118), (60, 56, 52, 50)]


def _smooth_noise(h, w, cell, rng):
    """(h, w) float noise in [-1, 1], bilinear over a random grid of ``cell``
    pixels."""
    gh, gw = h // cell + 2, w // cell + 2
    grid = rng.uniform(-1, 1, (gh, gw))
    ys = np.arange(h) / cell
    xs = np.arange(w) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    g00 = grid[y0][:, x0]
    g01 = grid[y0][:, x0 + 1]
    g10 = grid[y0 + 1][:, x0]
    g11 = grid[y0 + 1][:, x0 + 1]
    return (
        g00 * (1 - fy) * (1 - fx)
        + g01 * (1 - fy) * fx
        + g10 * fy * (1 - fx)
        + g11 * fy * fx
    )


def _paint(img, mask, colour, rng, jitter=12.0):
    """Fill ``mask`` of the (h, w, 4) float image with ``colour`` +- jitter."""
    c = np.asarray(colour, np.float32) + rng.normal(0, jitter, 4)
    img[mask] = c


def _rect(h, w, y0, x0, rh, rw):
    m = np.zeros((h, w), bool)
    m[max(y0, 0) : max(y0 + rh, 0), max(x0, 0) : max(x0 + rw, 0)] = True
    return m


def make_scene(
    height: int, width: int, rng: np.random.Generator
) -> Tuple[np.ndarray, np.ndarray]:
    """Draw one scene.

    Returns:
        tuple: ``bands`` (H, W, 4) uint8 in (R, G, B, NIR) order and
        ``label`` (H, W) uint8 class indices 0..5 (impervious surface,
        building, low vegetation, tree, car, clutter).
    """
    h, w = height, width
    img = np.zeros((h, w, 4), np.float32)
    label = np.full((h, w), LOW_VEG, np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]

    # Grass fields in patches of different shades.
    fields = _smooth_noise(h, w, 48, rng)
    for k, colour in enumerate(_GRASS):
        m = (fields >= -1 + 2 * k / 3) & (fields < -1 + 2 * (k + 1) / 3 + 1e-6)
        _paint(img, m, colour, rng, 6)

    # Roads: a few straight strips across the scene, plus paved lots.
    occupied = np.zeros((h, w), bool)
    n_roads = rng.integers(1, 3)
    for _ in range(n_roads):
        for axis in (0, 1):
            extent = h if axis == 0 else w
            width_r = min(int(rng.integers(10, 22)), extent // 4)
            pos = int(rng.integers(0, extent - width_r))
            m = (
                (yy >= pos) & (yy < pos + width_r)
                if axis == 0
                else (xx >= pos) & (xx < pos + width_r)
            )
            _paint(img, m, _PAVEMENT[0], rng, 6)
            label[m] = IMPERVIOUS
            occupied |= m
    for _ in range(rng.integers(1, 4)):
        rh, rw = (
            min(int(rng.integers(20, 60)), h // 2),
            min(int(rng.integers(20, 60)), w // 2),
        )
        m = _rect(
            h,
            w,
            int(rng.integers(0, h - rh)),
            int(rng.integers(0, w - rw)),
            rh,
            rw,
        )
        _paint(img, m, _PAVEMENT[rng.integers(1, 3)], rng, 8)
        label[m] = IMPERVIOUS
        occupied |= m

    # Buildings: rectangles or L shapes with a gabled roof and a shadow.
    shadow = np.zeros((h, w), bool)
    n_buildings = max(1, (h * w) // 8000)
    for _ in range(n_buildings):
        for _try in range(20):
            bh = min(int(rng.integers(18, 72)), h // 2)
            bw = min(int(rng.integers(18, 72)), w // 2)
            y0, x0 = int(rng.integers(0, h - bh)), int(rng.integers(0, w - bw))
            m = _rect(h, w, y0, x0, bh, bw)
            if rng.random() < 0.4:  # L-shaped
                eh, ew = (
                    int(rng.integers(12, bh + 1)),
                    int(rng.integers(12, 40)),
                )
                m |= _rect(h, w, y0 + bh - eh, x0 + bw, eh, ew)
            if not (m & occupied).any():
                break
        else:
            continue
        roof = np.asarray(_ROOFS[rng.integers(len(_ROOFS))], np.float32)
        roof = roof * rng.uniform(0.85, 1.15)
        # Gable: the two halves along the long axis are lit differently.
        if bh > bw:
            half = xx < x0 + bw // 2
        else:
            half = yy < y0 + bh // 2
        img[m & half] = roof * 1.12
        img[m & ~half] = roof * 0.82
        label[m] = BUILDING
        occupied |= m
        dy, dx = (int(v) for v in rng.integers(4, 10, 2))
        shifted = np.zeros_like(m)
        shifted[dy:, dx:] = m[: h - dy, : w - dx]
        shadow |= shifted & ~m

    # Clutter: a few irregular blobs (water, soil, debris).
    for _ in range(rng.integers(0, 3)):
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        r = rng.uniform(8, 22)
        blob = (yy - cy) ** 2 + (xx - cx) ** 2 < (
            r * (1 + 0.35 * _smooth_noise(h, w, 8, rng))
        ) ** 2
        blob &= label != BUILDING
        _paint(img, blob, _CLUTTER[rng.integers(len(_CLUTTER))], rng, 8)
        label[blob] = CLUTTER

    # Cars: boxes on roads and paved lots, oriented along the roads, with a
    # darker band for the windows.
    paved = np.argwhere(label == IMPERVIOUS)
    n_cars = (h * w) // 5000 + int(rng.integers(0, 6)) if len(paved) else 0
    for _ in range(n_cars):
        cy, cx = (int(v) for v in paved[rng.integers(len(paved))])
        along_x = rng.random() < 0.5
        ch, cw = (8, 16) if along_x else (16, 8)
        m = _rect(h, w, cy - ch // 2, cx - cw // 2, ch, cw) & (
            label == IMPERVIOUS
        )
        colour = rng.uniform(20, 235, 4)
        colour[3] = colour[0] * 0.9
        _paint(img, m, colour, rng, 4)
        band = (np.abs(xx - cx) < 3) if along_x else (np.abs(yy - cy) < 3)
        img[m & band] *= 0.55
        label[m] = CAR

    # Trees: clusters of round crowns, lit from the upper left, casting a
    # shadow to the lower right, over anything but buildings and cars.
    for _ in range(max(1, (h * w) // 9000)):
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        for _k in range(rng.integers(3, 11)):
            ty = cy + rng.normal(0, 18)
            tx = cx + rng.normal(0, 18)
            r = rng.uniform(6, 16)
            d2 = (yy - ty) ** 2 + (xx - tx) ** 2
            crown = (d2 < r**2) & (label != BUILDING) & (label != CAR)
            light = 1.0 - 0.35 * ((yy - ty + xx - tx) / (2 * r)).clip(-1, 1)
            img[crown] = np.asarray(_TREE, np.float32) * light[crown, None]
            label[crown] = TREE
            shadow |= (yy - ty - 4) ** 2 + (xx - tx - 4) ** 2 < r**2
    shadow &= label != TREE

    # Texture: fine grain on vegetation, coarse grain elsewhere; shadows.
    grain = rng.normal(0, 1, (h, w)).astype(np.float32)
    leafy = label == TREE
    img *= (1 + np.where(leafy, 0.18, 0.05) * grain)[..., None]
    img *= (1 + 0.08 * _smooth_noise(h, w, 16, rng))[..., None]
    img[shadow & (label != BUILDING)] *= 0.5
    # Sensor: slight blur and noise.
    img = cv2.blur(img, (3, 3))
    img += rng.normal(0, 3, img.shape)
    return img.clip(0, 255).astype(np.uint8), label


def colour_label(label: np.ndarray) -> np.ndarray:
    """(H, W) class indices 0..5 -> (H, W, 3) uint8 RGB ISPRS colours."""
    return np.asarray(ISPRS_PALETTE, np.uint8)[label]


def erode_label(label: np.ndarray, radius: int = 2) -> np.ndarray:
    """ISPRS eroded ground truth: pixels within ``radius`` of a class
    boundary become -1 (drawn black in the colour label)."""
    h, w = label.shape
    pad = np.pad(label.astype(np.int16), radius, mode='edge')
    boundary = np.zeros((h, w), bool)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            boundary |= pad[dy : dy + h, dx : dx + w] != label
    out = label.astype(np.int16)
    out[boundary] = -1
    return out


def _colour_label_eroded(label):
    palette = np.asarray(LABEL_COLOURS, np.uint8)  # black boundary first
    return palette[label + 1]


def _tif_bytes(rgb_or_rgbn):
    """Encode an (H, W, 3) RGB or (H, W, 4) RGB+NIR array as TIFF bytes."""
    a = rgb_or_rgbn
    a = a[..., [2, 1, 0]] if a.shape[2] == 3 else a[..., [2, 1, 0, 3]]
    ok, buf = cv2.imencode('.tif', np.ascontiguousarray(a))
    assert ok, 'OpenCV failed to encode a TIFF'
    return buf.tobytes()


def _write_zip(path, members):
    with atomic_write(path) as tmp, zipfile.ZipFile(
        tmp, 'w', zipfile.ZIP_STORED
    ) as zf:
        for name, data in members:
            zf.writestr(name, data)


def write_vaihingen_archives(
    out_dir: str,
    areas: Sequence[int],
    size: Tuple[int, int] = (512, 512),
    seed: int = 0,
    eroded: bool = True,
) -> Dict[int, np.ndarray]:
    """Write Vaihingen-style archives for the given area numbers.

    Creates ``ISPRS_semantic_labeling_Vaihingen.zip`` (``top/
    top_mosaic_09cm_areaN.tif``, IRRG), ``..._ground_truth_COMPLETE.zip``
    (colour labels) and, if ``eroded``,
    ``..._ground_truth_eroded_COMPLETE.zip`` (``..._noBoundary.tif``).

    Returns:
        dict: area number -> (H, W) class-index label (full).
    """
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    tops, gts, gts_eroded, labels = [], [], [], {}
    for area in areas:
        bands, label = make_scene(size[0], size[1], rng)
        irrg = bands[..., [3, 0, 1]]
        name = f'top_mosaic_09cm_area{area}'
        tops.append((f'top/{name}.tif', _tif_bytes(irrg)))
        gts.append((f'{name}.tif', _tif_bytes(colour_label(label))))
        gts_eroded.append(
            (
                f'{name}_noBoundary.tif',
                _tif_bytes(_colour_label_eroded(erode_label(label))),
            )
        )
        labels[area] = label
    _write_zip(
        osp.join(out_dir, 'ISPRS_semantic_labeling_Vaihingen.zip'), tops
    )
    _write_zip(
        osp.join(
            out_dir,
            'ISPRS_semantic_labeling_Vaihingen_ground_truth_COMPLETE.zip',
        ),
        gts,
    )
    if eroded:
        _write_zip(
            osp.join(
                out_dir,
                'ISPRS_semantic_labeling_Vaihingen_ground_truth_'
                'eroded_COMPLETE.zip',
            ),
            gts_eroded,
        )
    return labels


def write_potsdam_archives(
    out_dir: str,
    tiles: Sequence[str],
    size: Tuple[int, int] = (600, 600),
    seed: int = 0,
    eroded: bool = True,
) -> Dict[str, np.ndarray]:
    """Write Potsdam-style archives for tiles given as ``'2_10'`` strings.

    Creates ``2_Ortho_RGB.zip``, ``3_Ortho_IRRG.zip``, ``4_Ortho_RGBIR.zip``
    (``top_potsdam_X_Y_{RGB,IRRG,RGBIR}.tif``), ``5_Labels_all.zip`` and, if
    ``eroded``, ``5_Labels_all_noBoundary.zip``.

    Returns:
        dict: tile -> (H, W) class-index label (full).
    """
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    members = {k: [] for k in ('RGB', 'IRRG', 'RGBIR', 'label', 'eroded')}
    labels = {}
    for tile in tiles:
        bands, label = make_scene(size[0], size[1], rng)
        name = f'top_potsdam_{tile}'
        members['RGB'].append(
            (f'2_Ortho_RGB/{name}_RGB.tif', _tif_bytes(bands[..., :3]))
        )
        members['IRRG'].append(
            (
                f'3_Ortho_IRRG/{name}_IRRG.tif',
                _tif_bytes(bands[..., [3, 0, 1]]),
            )
        )
        members['RGBIR'].append(
            (f'4_Ortho_RGBIR/{name}_RGBIR.tif', _tif_bytes(bands))
        )
        members['label'].append(
            (f'{name}_label.tif', _tif_bytes(colour_label(label)))
        )
        members['eroded'].append(
            (
                f'{name}_label_noBoundary.tif',
                _tif_bytes(_colour_label_eroded(erode_label(label))),
            )
        )
        labels[tile] = label
    for key, zname in [
        ('RGB', '2_Ortho_RGB.zip'),
        ('IRRG', '3_Ortho_IRRG.zip'),
        ('RGBIR', '4_Ortho_RGBIR.zip'),
        ('label', '5_Labels_all.zip'),
        ('eroded', '5_Labels_all_noBoundary.zip'),
    ]:
        if key == 'eroded' and not eroded:
            continue
        _write_zip(osp.join(out_dir, zname), members[key])
    return labels


def smooth_scene(
    height: int,
    width: int,
    bands: int = 3,
    dtype: type = np.uint8,
    seed: int = 0,
) -> np.ndarray:
    """Smooth random image (bands, height, width) with structure at several
    scales."""
    rng = np.random.RandomState(seed)
    img = np.zeros((bands, height, width), np.float32)
    for cell in (4, 16, 48):
        small = rng.rand(bands, height // cell + 2, width // cell + 2)
        img += np.kron(small, np.ones((cell, cell)))[:, :height, :width]
    img = img / img.max() * (255 if dtype == np.uint8 else 4000)
    return img.astype(dtype)
