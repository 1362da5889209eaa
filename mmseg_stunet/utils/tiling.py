"""Window geometry shared by the data converter, the metric and the scene
predictor."""
import os.path as osp
import re
from typing import List, Optional, Tuple

__all__ = ['window_starts', 'tile_name', 'parse_tile_name']

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
        raise ValueError(f'need positive length, size and stride, got '
                         f'{length}, {size}, {stride}')
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
