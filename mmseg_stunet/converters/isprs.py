"""Convert ISPRS Vaihingen / Potsdam archives into MMSegmentation's layout.

Input: the zip files (or their extracted folders, or a folder holding the
zips, nested zips included) as ISPRS distributes them::

    Vaihingen  ISPRS_semantic_labeling_Vaihingen.zip    top/top_mosaic_09cm_areaN.tif (IRRG)
               ..._ground_truth_COMPLETE.zip            top_mosaic_09cm_areaN.tif (colour labels)
               ..._ground_truth_eroded_COMPLETE.zip     top_mosaic_09cm_areaN_noBoundary.tif
    Potsdam    2_Ortho_RGB.zip / 3_Ortho_IRRG.zip / 4_Ortho_RGBIR.zip
                                                        top_potsdam_X_Y_{RGB,IRRG,RGBIR}.tif
               5_Labels_all.zip                         top_potsdam_X_Y_label.tif
               5_Labels_all_noBoundary.zip              top_potsdam_X_Y_label_noBoundary.tif

Output (names as MMSegmentation's own converters write them, so its
``ISPRSDataset`` / ``PotsdamDataset`` with ``reduce_zero_label=True`` read
them)::

    out_dir/img_dir/{train,val}/area1_0_0_256_256.png        image tile
    out_dir/ann_dir/{train,val}/area1_0_0_256_256.png        full labels
    out_dir/ann_dir_eroded/{train,val}/area1_0_0_256_256.png eroded labels

Label tiles hold 0 for the black boundary of eroded labels (ignored after
``reduce_zero_label``) and 1..6 for impervious surface, building, low
vegetation, tree, car, clutter. Every file is written atomically (temporary
name, then rename); a source tile is marked finished only when all its
tiles exist, and a re-run skips finished ones; a re-run whose source files
differ in content (size and CRC-32) from those a finished area was
converted from is refused, naming the file.

An area of the requested split that lacks one of the files the other areas
have (image, full or eroded labels) stops the conversion unless
``allow_missing`` is set; unreadable archives and files are reported with
the archive and member names.
"""

import json
import os
import os.path as osp
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

import cv2
import numpy as np

from ..datasets.isprs import POTSDAM_MODALITIES, SPLITS, image_bands
from ..utils.paths import UnsafeOutputError, check_outputs
from ..utils.tiling import stitch_tiles, tile_boxes, tile_name
from .label_colours import colour_to_index
from .sources import (
    ZIP_ERRORS,
    ConversionError,
    Source,
    classify,
    find_sources,
    group_sources,
)
from .state import STATE_DIR, check_state, check_unchanged, write_bytes

# the public names of the module before its split stay importable from here
__all__ = [
    'ConversionError',
    'Source',
    'find_sources',
    'classify',
    'colour_to_index',
    'tile_boxes',
    'stitch_tiles',
    'Summary',
    'convert_isprs',
    'ZIP_ERRORS',
    'STATE_DIR',
]

LABEL_DIRS = {'label': 'ann_dir', 'eroded': 'ann_dir_eroded'}


def _write_png(path: str, array: np.ndarray) -> None:
    """Encode ``array`` as PNG and move it into place in one rename."""
    ok, buf = cv2.imencode('.png', array)
    if not ok:
        raise ConversionError(f'{path}: OpenCV could not encode the tile')
    write_bytes(path, buf.tobytes())


@dataclass
class Summary:
    """Tile counts per split and the keys that were not converted."""

    tiles: Dict[str, int] = field(
        default_factory=lambda: {'train': 0, 'val': 0}
    )
    converted: list = field(default_factory=list)
    skipped_finished: list = field(default_factory=list)
    not_in_split: list = field(default_factory=list)
    #: split keys left out with ``allow_missing``: key -> missing kinds
    incomplete: Dict[Union[int, str], List[str]] = field(default_factory=dict)
    #: split keys of which no file was found at all
    absent: list = field(default_factory=list)


def _tile_prefix(dataset: str, key: Union[int, str]) -> str:
    return f'area{key}' if dataset == 'vaihingen' else str(key)


def convert_isprs(
    dataset: str,
    inputs: Union[str, Sequence[str]],
    out_dir: str,
    size: int = 256,
    stride: Optional[int] = None,
    split: str = 'paper',
    modality: str = 'RGB',
    progress: bool = True,
    allow_missing: bool = False,
) -> Summary:
    """Tile the ISPRS archives ``inputs`` into ``out_dir``.

    Args:
        dataset (str): ``'vaihingen'`` or ``'potsdam'``.
        inputs (str | list[str]): zip files and/or folders.
        out_dir (str): output root (``img_dir``, ``ann_dir``, ...).
        size (int): tile size. stride (int): step, defaults to ``size``;
            at most ``size``, so that the tiles cover every pixel.
        split (str): ``'paper'`` (He et al. 2022) or ``'mmseg'``.
        modality (str): Potsdam image band set: RGB, IRRG or RGBIR.
        progress (bool): show a progress bar.
        allow_missing (bool): convert what is there when areas of the split
            are absent or lack a file (image, full or eroded labels) that
            other areas have; they are listed in the summary. Default: such
            a split is an error, since it changes the benchmark.

    Returns:
        Summary: tiles written per split and the keys left out.

    Raises:
        ConversionError: bad arguments or input, naming the file.
    """
    if dataset not in SPLITS:
        raise ConversionError(
            f'unknown dataset {dataset!r}; choose from {sorted(SPLITS)}'
        )
    if split not in SPLITS[dataset]:
        raise ConversionError(
            f'unknown split {split!r}; choose from {sorted(SPLITS[dataset])}'
        )
    if dataset == 'potsdam' and modality not in POTSDAM_MODALITIES:
        raise ConversionError(
            f'unknown Potsdam modality {modality!r}; choose '
            f'from {POTSDAM_MODALITIES}'
        )
    paths = [inputs] if isinstance(inputs, str) else inputs
    try:
        check_outputs({'out_dir (-o)': out_dir}, [('input', p) for p in paths])
    except UnsafeOutputError as e:
        raise ConversionError(str(e)) from e
    stride = size if stride is None else stride
    if size <= 0:
        raise ConversionError(
            f'--size must be a positive number of pixels, got {size}'
        )
    if not 0 < stride <= size:
        raise ConversionError(
            f'--stride must be between 1 and --size ({size}), got {stride}: '
            + (
                'tiles further apart than their size would leave the pixels '
                'between them out'
                if stride > 0
                else 'tiles need a step'
            )
        )
    groups = group_sources(dataset, inputs, modality)
    which = {k: s for s, keys in SPLITS[dataset][split].items() for k in keys}
    summary = Summary(
        not_in_split=sorted(k for k in groups if k not in which),
        absent=[k for k in which if k not in groups],
    )
    # every area needs the image and each label kind found for any area
    needed = {'image'} | {
        kind for key, kinds in groups.items() if key in which for kind in kinds
    }
    summary.incomplete = {
        key: sorted(needed - set(kinds))
        for key, kinds in sorted(groups.items())
        if key in which and needed - set(kinds)
    }
    if not (needed & {'label', 'eroded'}):
        raise ConversionError(
            f'no {dataset} label files found in {inputs}; pass the ground '
            'truth archives too (see docs/data.md)'
        )
    if (summary.incomplete or summary.absent) and not allow_missing:
        problems = [
            f'{_tile_prefix(dataset, k)} lacks {" and ".join(v)}'
            for k, v in summary.incomplete.items()
        ]
        if summary.absent:
            problems.append(
                'no file at all for '
                + ', '.join(_tile_prefix(dataset, k) for k in summary.absent)
            )
        raise ConversionError(
            f'the {split} split of {dataset} is incomplete in {inputs}: '
            + '; '.join(problems)
            + '; pass the missing archives, or '
            'allow_missing (--allow-missing) to convert what is there'
        )
    todo = [
        k for k in sorted(groups) if k in which and k not in summary.incomplete
    ]

    params = dict(dataset=dataset, size=size, stride=stride, split=split)
    if dataset == 'potsdam':
        params['modality'] = modality
    state = check_state(out_dir, params)
    for key in todo:
        check_unchanged(
            out_dir,
            _tile_prefix(dataset, key),
            groups[key],
            osp.join(state, f'{_tile_prefix(dataset, key)}.json'),
        )
    bar = None
    if progress and todo:
        from mmengine.utils import ProgressBar

        bar = ProgressBar(len(todo), file=sys.stdout)
    for key in todo:
        split_name = which[key]
        done_file = osp.join(state, f'{_tile_prefix(dataset, key)}.json')
        n = _convert_one(
            dataset,
            key,
            groups[key],
            out_dir,
            split_name,
            size,
            stride,
            done_file,
            image_bands(dataset, modality),
        )
        if n is None:
            summary.skipped_finished.append(key)
        else:
            summary.converted.append(key)
        with open(done_file) as f:
            summary.tiles[split_name] += len(json.load(f)['tiles'])
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    return summary


def _convert_one(
    dataset: str,
    key: Union[int, str],
    kinds: Dict[str, Source],
    out_dir: str,
    split_name: str,
    size: int,
    stride: int,
    done_file: str,
    bands: Sequence[str],
) -> Optional[int]:
    """Write the tiles of one source tile; ``None`` if already finished.

    The image tiles keep the source file's band order (``bands``): OpenCV
    decodes it as B, G, R (, IR) and encodes that back as R, G, B (, IR).
    """
    if osp.exists(done_file):
        with open(done_file) as f:
            done = json.load(f)
        if all(osp.exists(osp.join(out_dir, p)) for p in done['files']):
            return None
    image = kinds['image'].read()
    channels = image.shape[2] if image.ndim == 3 else 1
    if channels != len(bands):
        raise ConversionError(
            f'{kinds["image"].name}: expected the {len(bands)} bands '
            f'{", ".join(bands)} of a {dataset} image, got {channels} '
            'band(s)'
        )
    labels = {}
    for kind in ('label', 'eroded'):
        if kind in kinds:
            lab = kinds[kind].read()
            if lab.shape[:2] != image.shape[:2]:
                raise ConversionError(
                    f'{kinds[kind].name}: label is {lab.shape[1]}x'
                    f'{lab.shape[0]} pixels but the image '
                    f'{kinds["image"].name} is {image.shape[1]}x'
                    f'{image.shape[0]}'
                )
            labels[kind] = colour_to_index(lab, kinds[kind].name)
    # Only now that every input decoded and validated, write tiles.
    prefix = _tile_prefix(dataset, key)
    tiles, files = [], []
    for x0, y0, x1, y1 in tile_boxes(
        image.shape[0], image.shape[1], size, stride
    ):
        name = tile_name(prefix, (x0, y0, x1, y1))
        outputs = [('img_dir', image)] + [
            (LABEL_DIRS[k], v) for k, v in labels.items()
        ]
        for sub, arr in outputs:
            rel = osp.join(sub, split_name, name)
            os.makedirs(osp.join(out_dir, sub, split_name), exist_ok=True)
            _write_png(osp.join(out_dir, rel), arr[y0:y1, x0:x1])
            files.append(rel)
        tiles.append(name)
    write_bytes(
        done_file,
        json.dumps(
            dict(
                split=split_name,
                tiles=tiles,
                files=files,
                sources=[s.name for s in kinds.values()],
                fingerprints={k: s.fingerprint() for k, s in kinds.items()},
            )
        ).encode(),
    )
    return len(tiles)
