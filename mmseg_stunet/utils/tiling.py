"""Window geometry shared by the data converter, the metric and the scene
predictor; the converter's tile boxes and stitching its tiles back."""

import os
import os.path as osp
import re
from typing import TYPE_CHECKING, List, Optional, Tuple

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    'window_starts',
    'tile_name',
    'parse_tile_name',
    'tile_boxes',
    'stitch_tiles',
]

Box = Tuple[int, int, int, int]
#: ``<area>_<x0>_<y0>_<x1>_<y1>``: how the converters (this project's and
#: MMSegmentation's) name a tile after its box within its area
_TILE_NAME = re.compile(r'(.+)_(\d+)_(\d+)_(\d+)_(\d+)')


def window_starts(length: int, size: int, stride: int) -> List[int]:
    """Starts of windows of ``size`` every ``stride`` px covering
    ``[0, length)``; the last window is moved back to end at the border, so
    every window lies inside (a single window ``[0, length)`` if
    ``length <= size``).

    Raises:
        ValueError: for a non-positive ``length``, ``size`` or ``stride``.
    """
    if length < 1 or size < 1 or stride < 1:
        raise ValueError(
            f'need positive length, size and stride, got '
            f'{length}, {size}, {stride}'
        )
    if length <= size:
        return [0]
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] + size < length:
        starts.append(length - size)
    return starts


def tile_name(area: str, box: Box, suffix: str = '.png') -> str:
    """File name of the tile ``box = (x0, y0, x1, y1)`` of ``area``:
    ``area1_0_0_256_256.png``."""
    return f'{area}_{box[0]}_{box[1]}_{box[2]}_{box[3]}{suffix}'


def parse_tile_name(path: str) -> Optional[Tuple[str, Box]]:
    """``(area, (x0, y0, x1, y1))`` from a path named by :func:`tile_name`,
    or ``None`` for a name that holds no box (or an empty one)."""
    m = _TILE_NAME.fullmatch(osp.splitext(osp.basename(path))[0])
    if m is None:
        return None
    x0, y0, x1, y1 = (int(v) for v in m.groups()[1:])
    if x1 <= x0 or y1 <= y0:
        return None
    return m.group(1), (x0, y0, x1, y1)


def tile_boxes(
    height: int, width: int, size: int, stride: int
) -> List[Tuple[int, int, int, int]]:
    """``(x0, y0, x1, y1)`` boxes of the tiles of an image: windows of
    ``size`` every ``stride`` px, the last row and column moved back to end
    at the border (:func:`window_starts`)."""
    return [
        (x, y, min(x + size, width), min(y + size, height))
        for y in window_starts(height, size, stride)
        for x in window_starts(width, size, stride)
    ]


def stitch_tiles(tile_dir: str, prefix: str) -> 'np.ndarray':
    """The image or label of one area put back together from the tiles
    ``<prefix>_<x0>_<y0>_<x1>_<y1>.png`` that the ISPRS converter
    (:func:`~mmseg_stunet.converters.isprs.convert_isprs`) wrote into
    ``tile_dir`` (overlapping tiles hold the same pixels).

    Returns:
        np.ndarray: (H, W[, C]) with H, W the largest ``y1``, ``x1``.
    """
    import cv2  # only here: the rest of utils needs no image library
    import numpy as np

    tiles = {}
    for entry in os.listdir(tile_dir):
        parsed = parse_tile_name(entry)
        if parsed and parsed[0] == prefix and entry.endswith('.png'):
            tiles[parsed[1]] = cv2.imread(
                osp.join(tile_dir, entry), cv2.IMREAD_UNCHANGED
            )
    if not tiles:
        raise FileNotFoundError(f'no tiles {prefix}_*.png in {tile_dir}')
    height = max(box[3] for box in tiles)
    width = max(box[2] for box in tiles)
    first = next(iter(tiles.values()))
    out = np.zeros((height, width) + first.shape[2:], first.dtype)
    for (x0, y0, x1, y1), tile in tiles.items():
        out[y0:y1, x0:x1] = tile
    return out
