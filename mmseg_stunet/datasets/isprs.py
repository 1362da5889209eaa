"""ISPRS Vaihingen / Potsdam facts, in one place: classes, colours, splits;
and their data sets.

The classes and their colours are MMSegmentation's (``ISPRSDataset`` and
``PotsdamDataset`` share them); the ISPRS label files add black for the
boundary band of the eroded ground truth, which the converter writes as
label value 0 (ignored after ``reduce_zero_label``), the classes as 1..6.
"""
from typing import Dict, List, Tuple, Union

from mmseg.datasets import ISPRSDataset, PotsdamDataset
from mmseg.registry import DATASETS

__all__ = [
    'ISPRS_CLASSES', 'ISPRS_PALETTE', 'BOUNDARY_COLOUR', 'LABEL_COLOURS',
    'LABEL_COLOUR_NAMES', 'SPLITS', 'POTSDAM_MODALITIES',
    'NonEmptyDatasetMixin', 'ISPRSVaihingenDataset', 'ISPRSPotsdamDataset'
]

Colour = Tuple[int, int, int]

#: the six classes, in label order (0..5 after ``reduce_zero_label``)
ISPRS_CLASSES: Tuple[str, ...] = tuple(ISPRSDataset.METAINFO['classes'])
#: RGB colour of each class, as ISPRS draws them
ISPRS_PALETTE: Tuple[Colour, ...] = tuple(
    tuple(int(v) for v in c) for c in ISPRSDataset.METAINFO['palette'])
#: RGB of the boundary band in the eroded labels
BOUNDARY_COLOUR: Colour = (0, 0, 0)
#: RGB colour of every value of a converted label file: 0 boundary, 1..6
LABEL_COLOURS: Tuple[Colour, ...] = (BOUNDARY_COLOUR, ) + ISPRS_PALETTE
LABEL_COLOUR_NAMES: Tuple[str, ...] = ('boundary (black)', ) + tuple(
    f'{name.replace("_", " ")} ({colour})' for name, colour in zip(
        ISPRS_CLASSES, ('white', 'blue', 'cyan', 'green', 'yellow', 'red')))

Key = Union[int, str]
#: train / val (= test) areas: He et al. 2022 ('paper') and MMSegmentation's
#: converters ('mmseg'); Vaihingen areas are numbers, Potsdam tiles 'X_Y'.
SPLITS: Dict[str, Dict[str, Dict[str, List[Key]]]] = {
    'vaihingen': {
        'paper': {
            'train': [1, 3, 5, 7, 13, 17, 21, 23, 26, 32, 37],
            'val': [11, 15, 28, 30, 34],
        },
        'mmseg': {
            'train': [1, 3, 5, 7, 11, 13, 15, 17, 21, 23, 26, 28, 30, 32, 34,
                      37],
            'val': [2, 4, 6, 8, 10, 12, 14, 16, 20, 22, 24, 27, 29, 31, 33, 35,
                    38],
        },
    },
    'potsdam': {
        'paper': {
            'train': ['2_10', '2_11', '2_12', '3_10', '3_11', '3_12', '4_10',
                      '4_11', '4_12', '5_10', '5_11', '5_12', '6_7', '6_8',
                      '6_9', '6_10', '6_11', '6_12', '7_7', '7_8', '7_9',
                      '7_10', '7_11', '7_12'],
            'val': ['2_13', '2_14', '3_13', '3_14', '4_13', '4_14', '4_15',
                    '5_13', '5_14', '5_15', '6_13', '6_14', '6_15', '7_13'],
        },
    },
}
SPLITS['potsdam']['mmseg'] = SPLITS['potsdam']['paper']  # identical lists
#: image archives of Potsdam: band sets
POTSDAM_MODALITIES: Tuple[str, ...] = ('RGB', 'IRRG', 'RGBIR')


class NonEmptyDatasetMixin:
    """A segmentation data set that refuses to be empty, naming the folder.

    mmengine serialises an empty data list with ``np.concatenate`` and fails
    with ``need at least one array to concatenate``.
    """

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        if not data_list:
            where = self.ann_file or self.data_prefix.get('img_path')
            raise FileNotFoundError(
                f'{type(self).__name__}: no *{self.img_suffix} images in '
                f'{where}; check data_root and data_prefix (convert the '
                'data first, see docs/data.md)')
        return data_list


@DATASETS.register_module()
class ISPRSVaihingenDataset(NonEmptyDatasetMixin, ISPRSDataset):
    """MMSegmentation's ``ISPRSDataset`` (Vaihingen) that refuses an empty
    image folder."""


@DATASETS.register_module()
class ISPRSPotsdamDataset(NonEmptyDatasetMixin, PotsdamDataset):
    """MMSegmentation's ``PotsdamDataset`` that refuses an empty image
    folder."""
