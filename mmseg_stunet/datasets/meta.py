"""Data set facts that need no MMSegmentation (so that the converters'
command lines parse without importing it): ISPRS splits and band orders,
LoveDA's bands, splits and domains. The classes and colours come from
MMSegmentation's data sets, in :mod:`.isprs` and :mod:`.loveda`, which
also re-export these names."""

from typing import Dict, List, Tuple, Union

__all__ = [
    'SPLITS',
    'VAIHINGEN_BANDS',
    'POTSDAM_BANDS',
    'POTSDAM_MODALITIES',
    'image_bands',
    'LOVEDA_BANDS',
    'LOVEDA_SPLITS',
    'LOVEDA_DOMAINS',
]

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
            'train': [
                1,
                3,
                5,
                7,
                11,
                13,
                15,
                17,
                21,
                23,
                26,
                28,
                30,
                32,
                34,
                37,
            ],
            'val': [
                2,
                4,
                6,
                8,
                10,
                12,
                14,
                16,
                20,
                22,
                24,
                27,
                29,
                31,
                33,
                35,
                38,
            ],
        },
    },
    'potsdam': {
        'paper': {
            'train': [
                '2_10',
                '2_11',
                '2_12',
                '3_10',
                '3_11',
                '3_12',
                '4_10',
                '4_11',
                '4_12',
                '5_10',
                '5_11',
                '5_12',
                '6_7',
                '6_8',
                '6_9',
                '6_10',
                '6_11',
                '6_12',
                '7_7',
                '7_8',
                '7_9',
                '7_10',
                '7_11',
                '7_12',
            ],
            'val': [
                '2_13',
                '2_14',
                '3_13',
                '3_14',
                '4_13',
                '4_14',
                '4_15',
                '5_13',
                '5_14',
                '5_15',
                '6_13',
                '6_14',
                '6_15',
                '7_13',
            ],
        },
    },
}
SPLITS['potsdam']['mmseg'] = SPLITS['potsdam']['paper']  # identical lists
#: bands of the Vaihingen images (IRRG), in file order; the converted PNG
#: tiles keep it, ``LoadImageFromFile`` gives the model G, R, IR
#: (:func:`~mmseg_stunet.utils.bands.loaded_order`)
VAIHINGEN_BANDS: Tuple[str, ...] = ('IR', 'R', 'G')
#: bands of each Potsdam image archive (``--modality``), in file order, as
#: the converted tiles keep them; the model sees them in
#: :func:`~mmseg_stunet.utils.bands.loaded_order` (B, G, R, IR for RGBIR),
#: which ``tools/predict.py`` applies to the original GeoTIFFs too
POTSDAM_BANDS: Dict[str, Tuple[str, ...]] = {
    'RGB': ('R', 'G', 'B'),
    'IRRG': ('IR', 'R', 'G'),
    'RGBIR': ('R', 'G', 'B', 'IR'),
}
#: image archives of Potsdam: band sets
POTSDAM_MODALITIES: Tuple[str, ...] = tuple(POTSDAM_BANDS)


def image_bands(dataset: str, modality: str = 'RGB') -> Tuple[str, ...]:
    """Bands, in file order, of the images of ``dataset`` (``'vaihingen'``
    or ``'potsdam'`` with its ``modality``)."""
    return (
        VAIHINGEN_BANDS if dataset == 'vaihingen' else POTSDAM_BANDS[modality]
    )


#: bands of the images, in file order (the model sees B, G, R, as
#: LoadImageFromFile loads them; see mmseg_stunet/utils/bands.py)
LOVEDA_BANDS: Tuple[str, ...] = ('R', 'G', 'B')
#: archive -> output split (as MMSegmentation's converter names them)
LOVEDA_SPLITS = {'Train': 'train', 'Val': 'val', 'Test': 'test'}
#: the two scene domains, as the archives name their folders
LOVEDA_DOMAINS: Tuple[str, ...] = ('Urban', 'Rural')
