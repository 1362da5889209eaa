"""Colour previews of class maps, drawn by MMSegmentation's visualiser."""

import itertools
from contextlib import contextmanager
from typing import Iterator, List, Sequence

import mmcv
import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

_instances = itertools.count()
STRIP_PIXELS = 2**18


@contextmanager
def _every_rank() -> Iterator[None]:
    """mmengine's visualiser draws only in rank 0 of a distributed run
    (``master_only`` asks ``mmengine.dist.utils.is_main_process``); a
    preview is a file of the rank that predicted the scene, so every rank
    draws (tools/dist_predict.sh)."""
    import mmengine.dist.utils as dist_utils

    saved = dist_utils.is_main_process
    dist_utils.is_main_process = lambda *args, **kwargs: True
    try:
        yield
    finally:
        dist_utils.is_main_process = saved


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Scale (c, h, w) pixels of any dtype to uint8 for display: uint8 is
    kept, anything else is stretched per band between its 2nd and 98th
    percentiles (NaN pixels left out, drawn black)."""
    if image.dtype == np.uint8:
        return image
    image = image.astype(np.float32)
    if not np.isfinite(image).any():
        return np.zeros(image.shape, np.uint8)
    # NaN pixels (nodata of float scenes) are left out and drawn black
    lo = np.nanpercentile(image, 2, axis=(1, 2), keepdims=True)
    hi = np.nanpercentile(image, 98, axis=(1, 2), keepdims=True)
    scaled = (image - lo) / np.maximum(hi - lo, 1e-6) * 255
    return np.nan_to_num(np.clip(scaled, 0, 255), nan=0).astype(np.uint8)


def draw_preview(
    image: np.ndarray,
    classes: np.ndarray,
    palette: List[Sequence[int]],
    out_file: str,
    opacity: float = 0.5,
) -> np.ndarray:
    """Overlay a class map on an image and save it.

    Args:
        image (np.ndarray): (3, h, w) image, bands in display (R, G, B) order.
        classes (np.ndarray): (h, w) class indices.
        palette (list): RGB colour per class.
        out_file (str): PNG/JPEG path to write.
        opacity (float): opacity of the class colours.

    Returns:
        np.ndarray: the (h, w, 3) RGB overlay.
    """
    rgb = np.ascontiguousarray(to_uint8(image).transpose(1, 2, 0))
    with _every_rank():
        drawn = _draw(rgb, classes, palette, opacity)
    if not mmcv.imwrite(mmcv.rgb2bgr(drawn), out_file):
        raise OSError(f'could not write {out_file}')
    return drawn


def _draw(
    rgb: np.ndarray,
    classes: np.ndarray,
    palette: List[Sequence[int]],
    opacity: float,
) -> np.ndarray:
    visualizer = SegLocalVisualizer(
        name=f'mmseg_stunet_preview_{next(_instances)}', alpha=opacity
    )
    visualizer.set_dataset_meta(
        classes=[str(i) for i in range(len(palette))],
        palette=[list(c) for c in palette],
    )
    # The visualiser blends in float64: draw strips of about STRIP_PIXELS
    # pixels so that its temporaries stay small whatever the preview size.
    drawn = np.empty_like(rgb)
    rows = max(1, STRIP_PIXELS // rgb.shape[1])
    for top in range(0, rgb.shape[0], rows):
        strip = slice(top, top + rows)
        sample = SegDataSample(
            pred_sem_seg=PixelData(
                data=torch.from_numpy(classes[strip].astype(np.int64))[None]
            )
        )
        visualizer.add_datasample(
            'preview', rgb[strip], sample, draw_gt=False, with_labels=False
        )
        drawn[strip] = visualizer.get_image()
    return drawn
