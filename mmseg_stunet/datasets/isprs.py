"""ISPRS Vaihingen / Potsdam facts, in one place: classes, colours, splits;
and their data sets.

The classes and their colours are MMSegmentation's (``ISPRSDataset`` and
``PotsdamDataset`` share them); the ISPRS label files add black for the
boundary band of the eroded ground truth, which the converter writes as
label value 0 (ignored after ``reduce_zero_label``), the classes as 1..6.
"""

import os.path as osp
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmseg.datasets import ISPRSDataset, PotsdamDataset
from mmseg.registry import DATASETS

from ..utils.paths import DataFileError
from .meta import (  # noqa: F401  (facts kept importable from here)
    POTSDAM_BANDS,
    POTSDAM_MODALITIES,
    SPLITS,
    VAIHINGEN_BANDS,
    image_bands,
)

__all__ = [
    'ISPRS_CLASSES',
    'ISPRS_PALETTE',
    'BOUNDARY_COLOUR',
    'LABEL_COLOURS',
    'LABEL_COLOUR_NAMES',
    'SPLITS',
    'POTSDAM_MODALITIES',
    'VAIHINGEN_BANDS',
    'POTSDAM_BANDS',
    'image_bands',
    'NonEmptyDatasetMixin',
    'LabelConventionMixin',
    'LabelCheckMixin',
    'label_convention_error',
    'ISPRSVaihingenDataset',
    'ISPRSPotsdamDataset',
]

Colour = Tuple[int, int, int]

#: the six classes, in label order (0..5 after ``reduce_zero_label``)
ISPRS_CLASSES: Tuple[str, ...] = tuple(ISPRSDataset.METAINFO['classes'])
#: RGB colour of each class, as ISPRS draws them
ISPRS_PALETTE: Tuple[Colour, ...] = tuple(
    tuple(int(v) for v in c) for c in ISPRSDataset.METAINFO['palette']
)
#: RGB of the boundary band in the eroded labels
BOUNDARY_COLOUR: Colour = (0, 0, 0)
#: RGB colour of every value of a converted label file: 0 boundary, 1..6
LABEL_COLOURS: Tuple[Colour, ...] = (BOUNDARY_COLOUR,) + ISPRS_PALETTE
LABEL_COLOUR_NAMES: Tuple[str, ...] = ('boundary (black)',) + tuple(
    f'{name.replace("_", " ")} ({colour})'
    for name, colour in zip(
        ISPRS_CLASSES, ('white', 'blue', 'cyan', 'green', 'yellow', 'red')
    )
)


class NonEmptyDatasetMixin:
    """A segmentation data set that refuses to be empty, naming the folder.

    mmengine serialises an empty data list with ``np.concatenate`` and fails
    with ``need at least one array to concatenate``.
    """

    def prepare_data(self, idx: int):
        """The pipeline's output for sample ``idx``; a sample that fails to
        load (truncated or unreadable image or label, a label the checks
        refuse) raises :class:`~mmseg_stunet.utils.paths.DataFileError`
        naming its files, which the tools print in one line, also when it
        happens in a data-loader worker."""
        try:
            return super().prepare_data(idx)
        except DataFileError:
            raise
        except Exception as err:  # noqa: B902 - re-raised with the files
            info = self.get_data_info(idx)
            files = ', '.join(
                str(info[k])
                for k in ('img_path', 'seg_map_path')
                if info.get(k)
            )
            text = '; '.join(
                ln.strip() for ln in str(err).splitlines() if ln.strip()
            )
            if not any(
                str(info.get(k)) in text
                for k in ('img_path', 'seg_map_path')
                if info.get(k)
            ):
                text = f'{files}: {type(err).__name__}: {text}'
            raise DataFileError(text) from err

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        if not data_list:
            where = self.ann_file or self.data_prefix.get('img_path')
            raise FileNotFoundError(
                f'{type(self).__name__}: no *{self.img_suffix} images in '
                f'{where}; check data_root and data_prefix (convert the '
                'data first, see docs/data.md)'
            )
        return data_list


#: side of the square that erodes the 0-mask: ISPRS erodes its boundaries
#: by a disc of radius 3, a band about 7 px wide that a 9 px square removes
#: (but for junctions and objects that vanished into the band)
SOLID_ZERO_SIZE = 9
#: 0 is a class, not the boundary band, when at least this share of its
#: pixels survives the erosion (the band: below 0.07 even on the heavily
#: textured synthetic scenes; a class: 0.2 to 0.5 there, more on real data)
SOLID_ZERO_RATIO = 0.15
#: ... and the surviving pixels are at least this share of all checked ones
SOLID_ZERO_SHARE = 0.01


def label_convention_error(
    paths: Sequence[str], num_classes: int = len(ISPRS_CLASSES)
) -> Optional[str]:
    """Tell label files written as class indices ``0..num_classes-1`` from
    the ISPRS convention ``1..num_classes`` with 0 = eroded boundary.

    ``reduce_zero_label`` turns the file's 0 into the ignore index and
    ``v`` into ``v - 1``; on 0..5 labels it silently ignores the whole
    first class (impervious surfaces, a quarter of the pixels) and scores
    every other class as its neighbour (issue 19: OA 13.3 instead of 82.1),
    and no value check can see it, since every value stays valid. What
    tells them apart: in ISPRS labels, 0 is at most a thin band (the eroded
    boundary) and the last class (clutter) is ``num_classes``; in 0..5
    labels, 0 fills whole regions and ``num_classes`` never occurs. The
    regions are measured by an erosion of the 0-mask with a
    ``SOLID_ZERO_SIZE`` square, which removes the boundary band but keeps
    the inside of a class's regions.

    Args:
        paths (Sequence[str]): label files to read (unreadable or missing
            ones are skipped: no labels at inference).
        num_classes (int): classes of the data set.

    Returns:
        str | None: a one-line error naming the file with the most solid 0
        when no file holds ``num_classes`` and the solid 0 is at least
        ``SOLID_ZERO_RATIO`` of the 0 pixels and ``SOLID_ZERO_SHARE`` of
        all pixels read; else ``None``.
    """
    kernel = np.ones((SOLID_ZERO_SIZE, SOLID_ZERO_SIZE), np.uint8)
    total = zeros = solid = files = 0
    worst, worst_share = None, 0.0
    for path in paths:
        label = (
            cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if osp.isfile(path)
            else None
        )
        if label is None or label.ndim != 2:
            continue
        if (label == num_classes).any():
            return None  # the last class as num_classes: 1..n labels
        n = int(cv2.erode((label == 0).astype(np.uint8), kernel).sum())
        total, solid = total + label.size, solid + n
        zeros += int((label == 0).sum())
        files += 1
        if n / label.size > worst_share:
            worst, worst_share = path, n / label.size
    if not total or solid < max(
        SOLID_ZERO_SHARE * total, SOLID_ZERO_RATIO * zeros
    ):
        return None
    return (
        f'{worst}: label value 0 fills whole regions (it is '
        f'{100 * zeros / total:.0f} % of the pixels of the {files} label '
        f'files checked) and no file holds {num_classes}: these look like '
        f'class indices 0..{num_classes - 1}, which '
        f'reduce_zero_label=True would shift (0 ignored, '
        f'1..{num_classes - 1} read as 0..{num_classes - 2}); for such '
        'labels set reduce_zero_label=False in the data '
        'set and its LoadAnnotations, or re-convert the archives '
        f'with tools/dataset_converters/ (1..{num_classes}, 0 = '
        'boundary or no-data); '
        'label_check_files=0 skips this check'
    )


class LabelConventionMixin:
    """A data set with ``reduce_zero_label`` that refuses labels written as
    class indices 0..5, naming a file (:func:`label_convention_error`).

    Reads ``label_check_files`` label files spread evenly over the data
    list (the first N would all come from one area) when the data set is
    built, so that training and testing stop before the first iteration.

    Args:
        label_check_files (int): label files to read; 0 turns the check off.
            Default 16.
    """

    def __init__(self, *args, label_check_files: int = 16, **kwargs):
        self.label_check_files = label_check_files
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        n = min(self.label_check_files, len(data_list))
        if self.reduce_zero_label and n > 0:
            picks = np.unique(np.linspace(0, len(data_list) - 1, n).round())
            paths = [data_list[int(i)].get('seg_map_path') for i in picks]
            error = label_convention_error(
                [p for p in paths if p], len(self.metainfo['classes'])
            )
            if error:
                from ..engine.errors import ConfigError

                raise ConfigError(error)
        return data_list


class LabelCheckMixin:
    """A data set that checks every label map it loads: a
    :class:`~mmseg_stunet.datasets.transforms.CheckSegMap` (its classes,
    its ``ignore_index``) runs right after each ``LoadAnnotations`` of its
    pipeline, unless the pipeline already has one there.

    Why here and not as a step of the configs' pipelines: labels exist
    only where a data set loads them. MMSegmentation's inference helpers
    (``inference_model``, ``MMSegInferencer``) reuse the config's
    ``test_pipeline`` without labels: they drop the steps whose type is
    exactly ``LoadAnnotations``, so a check step listed there (or a
    ``LoadAnnotations`` variant of another name) failed with
    ``KeyError: 'gt_seg_map'`` on every image. Inference never builds a
    data set, so a check the data set adds runs in training, validation
    and testing only, whatever pipeline the config writes. Only the
    top-level steps are searched (not those nested in ``TestTimeAug``).

    Args:
        check_labels (bool): add the check. Default True.
    """

    def __init__(self, *args, check_labels: bool = True, **kwargs):
        self.check_labels = check_labels
        super().__init__(*args, **kwargs)
        if check_labels:
            self._add_label_checks()

    def _add_label_checks(self) -> None:
        from mmcv.transforms import LoadAnnotations

        from .transforms import CheckSegMap

        steps = self.pipeline.transforms
        num_classes = len(self.metainfo['classes'])
        i = 0
        while i < len(steps):
            if isinstance(steps[i], LoadAnnotations) and not (
                i + 1 < len(steps) and isinstance(steps[i + 1], CheckSegMap)
            ):
                steps.insert(
                    i + 1, CheckSegMap(num_classes, self.ignore_index)
                )
            i += 1


@DATASETS.register_module()
class ISPRSVaihingenDataset(
    NonEmptyDatasetMixin, LabelConventionMixin, LabelCheckMixin, ISPRSDataset
):
    """MMSegmentation's ``ISPRSDataset`` (Vaihingen) that refuses an empty
    image folder, labels written as class indices 0..5 and, sample by
    sample, label maps with values past the classes or of another size
    than their image (:class:`LabelCheckMixin`)."""


@DATASETS.register_module()
class ISPRSPotsdamDataset(
    NonEmptyDatasetMixin, LabelConventionMixin, LabelCheckMixin, PotsdamDataset
):
    """MMSegmentation's ``PotsdamDataset`` that refuses an empty image
    folder, labels written as class indices 0..5 and, sample by sample,
    label maps with values past the classes or of another size than their
    image (:class:`LabelCheckMixin`)."""
