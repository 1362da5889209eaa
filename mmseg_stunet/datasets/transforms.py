"""Checks of loaded samples that name the files at fault."""

from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

__all__ = ['CheckSegMap']


@TRANSFORMS.register_module()
class CheckSegMap(BaseTransform):
    """Refuse a sample whose label map does not fit its image or classes.

    The ISPRS data sets run it after each ``LoadAnnotations`` of their
    pipeline themselves (:class:`~mmseg_stunet.datasets.isprs.LabelCheckMixin`);
    other data sets can list it after ``LoadAnnotations``. Without it, a label value past the
    classes surfaces as cross-entropy's ``Target 8 is out of bounds`` (the
    file unnamed, the value shifted by ``reduce_zero_label``) and a label of
    another size than its image as ``stack expects each tensor to be equal
    size`` in the collate function.

    Args:
        num_classes (int): classes of the data set; values ``0 ..
            num_classes - 1`` (after ``reduce_zero_label``) and
            ``ignore_index`` are valid.
        ignore_index (int): the ignored label value. Default: 255.

    Required keys: ``img``, ``gt_seg_map``; ``img_path``, ``seg_map_path``
    and ``reduce_zero_label`` name the files and values in errors. A sample
    with neither ``gt_seg_map`` nor ``seg_map_path`` (inference: mmseg's
    ``inference_model`` and ``MMSegInferencer`` drop ``LoadAnnotations``
    but keep this step where a config lists it) passes unchanged.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255):
        super().__init__()
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> Optional[dict]:
        if 'gt_seg_map' not in results and not results.get('seg_map_path'):
            return results  # no labels: inference
        seg, img = results['gt_seg_map'], results['img']
        where = results.get('seg_map_path')
        if seg.shape[:2] != img.shape[:2]:
            raise ValueError(
                f'{where}: label is {seg.shape[1]}x{seg.shape[0]} pixels '
                f'but its image {results.get("img_path")} is '
                f'{img.shape[1]}x{img.shape[0]}'
            )
        if seg.size and seg.max() >= self.num_classes:
            values = np.unique(seg)
            bad = values[
                (values >= self.num_classes) & (values != self.ignore_index)
            ]
            if bad.size:
                raise ValueError(self._value_error(where, bad, results))
        return results

    def _value_error(self, where: str, bad: np.ndarray, results: dict) -> str:
        n, ignore = self.num_classes, self.ignore_index
        if results.get('reduce_zero_label', False):
            # file values v became v - 1; 0 became ignore_index
            return (
                f'{where}: label value(s) {(bad + 1).tolist()} in the '
                f'file are not among the {n} classes: valid are 1..{n} '
                f'(0 is ignored, reduce_zero_label=True) and {ignore}'
            )
        return (
            f'{where}: label value(s) {bad.tolist()} are not among the '
            f'{n} classes: valid are 0..{n - 1} and {ignore} (ignored)'
        )

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(num_classes={self.num_classes}, '
            f'ignore_index={self.ignore_index})'
        )
