"""ISPRS colour-coded label files -> label values 0..6 (0 = boundary)."""

import numpy as np

from ..datasets.isprs import LABEL_COLOUR_NAMES, LABEL_COLOURS
from .sources import ConversionError

__all__ = ['colour_to_index']


def colour_to_index(img: np.ndarray, source_name: str) -> np.ndarray:
    """(H, W, 3) BGR colour label -> (H, W) uint8 values 0..6.

    Raises:
        ConversionError: naming the file, the first unknown colour and its
            pixel position.
    """
    if img.ndim != 3 or img.shape[2] not in (3, 4) or img.dtype != np.uint8:
        raise ConversionError(
            f'{source_name}: a colour label must be 8-bit with 3 channels, '
            f'got shape {img.shape} and dtype {img.dtype}'
        )
    bgr = img[..., :3].astype(np.int32)
    code = (bgr[..., 2] << 16) | (bgr[..., 1] << 8) | bgr[..., 0]
    palette = np.array([(r << 16) | (g << 8) | b for r, g, b in LABEL_COLOURS])
    order = np.argsort(palette)
    pos = np.searchsorted(palette[order], code).clip(0, len(palette) - 1)
    known = palette[order][pos] == code
    if not known.all():
        y, x = (int(v) for v in np.argwhere(~known)[0])
        r, g, b = (int(v) for v in bgr[y, x, ::-1])
        raise ConversionError(
            f'{source_name}: unknown colour RGB({r}, {g}, {b}) at pixel '
            f'(x={x}, y={y}); {int((~known).sum())} pixels are outside the '
            f'ISPRS palette '
            + ', '.join(
                f'RGB{c} {n}'
                for c, n in zip(LABEL_COLOURS, LABEL_COLOUR_NAMES)
            )
        )
    return order[pos].astype(np.uint8)
