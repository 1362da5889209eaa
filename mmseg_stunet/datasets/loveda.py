"""LoveDA facts (classes, colours, bands, archive layout) and its data set.

LoveDA (Wang et al., NeurIPS 2021 Datasets and Benchmarks): 1024x1024 RGB
PNG images of urban and rural scenes in ``Train.zip`` / ``Val.zip`` /
``Test.zip`` (``{Train,Val,Test}/{Urban,Rural}/images_png/*.png``, masks in
``masks_png``, none for Test). Mask values: 0 no-data (ignored after
``reduce_zero_label``), 1..7 the classes below. The classes and colours are
MMSegmentation's ``LoveDADataset``'s.
"""

from typing import Tuple

from mmseg.datasets import LoveDADataset
from mmseg.registry import DATASETS

from .isprs import LabelCheckMixin, LabelConventionMixin, NonEmptyDatasetMixin
from .meta import LOVEDA_BANDS, LOVEDA_DOMAINS, LOVEDA_SPLITS

__all__ = [
    'LOVEDA_CLASSES',
    'LOVEDA_PALETTE',
    'LOVEDA_BANDS',
    'LOVEDA_SPLITS',
    'LOVEDA_DOMAINS',
    'CheckedLoveDADataset',
]

#: the seven classes, in label order (0..6 after ``reduce_zero_label``)
LOVEDA_CLASSES: Tuple[str, ...] = tuple(LoveDADataset.METAINFO['classes'])
#: RGB colour of each class
LOVEDA_PALETTE: Tuple[Tuple[int, int, int], ...] = tuple(
    tuple(int(v) for v in c) for c in LoveDADataset.METAINFO['palette']
)


@DATASETS.register_module()
class CheckedLoveDADataset(
    NonEmptyDatasetMixin, LabelConventionMixin, LabelCheckMixin, LoveDADataset
):
    """MMSegmentation's ``LoveDADataset`` that refuses an empty image folder
    and masks written as class indices 0..6 instead of LoveDA's 1..7 with
    0 = no-data (:func:`~mmseg_stunet.datasets.isprs.label_convention_error`
    with 7 classes: a file holding 7, agricultural, passes at once), checks
    every mask it loads (:class:`~mmseg_stunet.datasets.isprs.LabelCheckMixin`); a
    sample that fails to load names its files in one line."""
