"""The channel order in which the model sees an image file's bands.

Training reads the converted PNG tiles with MMSegmentation's
``LoadImageFromFile`` (``mmcv.imread``, OpenCV backend), which returns a 3-
or 4-channel file as B, G, R (, A): the file's first three bands reversed,
a fourth band kept in place. The converters keep the source GeoTIFF's band
order in the PNG tiles, so the same rule, applied to the GeoTIFF's bands,
gives the predictor (``tools/predict.py``) and the ONNX metadata the order
the model was trained on. This module is that one rule; the bands each data
set variant holds are in :mod:`mmseg_stunet.datasets.isprs`
(``VAIHINGEN_BANDS``, ``POTSDAM_BANDS``) and
:mod:`mmseg_stunet.datasets.loveda`.
"""

from typing import List, Sequence, Tuple, TypeVar

__all__ = ['loaded_order', 'model_band_names']

T = TypeVar('T')


def loaded_order(bands: Sequence[T]) -> List[T]:
    """``bands`` (1-based numbers or names, in file order) in the order
    ``LoadImageFromFile`` (OpenCV) returns the channels of an image file
    holding them: for 3 or 4 bands ``[b3, b2, b1] (+ [b4])`` (BGR / BGRA),
    any other count unchanged (OpenCV reads 1 and 2 bands as they are).

    Example: an RGBIR file's bands ``[1, 2, 3, 4]`` become ``[3, 2, 1, 4]``
    (B, G, R, IR); an IRRG file's ``[1, 2, 3]`` become ``[3, 2, 1]``
    (G, R, IR).
    """
    bands = list(bands)
    if len(bands) in (3, 4):
        return bands[2::-1] + bands[3:]
    return bands


def model_band_names(file_bands: Sequence[str]) -> Tuple[str, ...]:
    """Names of the model's input channels for a file with ``file_bands``
    (e.g. ``('R', 'G', 'B', 'IR')`` -> ``('B', 'G', 'R', 'IR')``), before
    the data preprocessor's ``bgr_to_rgb``, which swaps only 3 channels."""
    return tuple(loaded_order(file_bands))
