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
import re
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ..datasets.isprs import (LABEL_COLOUR_NAMES, LABEL_COLOURS,
                              POTSDAM_MODALITIES, SPLITS, image_bands)
from ..utils.atomic import atomic_write, is_partial
from ..utils.paths import UnsafeOutputError, check_outputs
from ..utils.tiling import parse_tile_name, tile_name, window_starts

__all__ = [
    'ConversionError', 'Source', 'find_sources', 'classify',
    'colour_to_index', 'tile_boxes', 'stitch_tiles', 'Summary',
    'convert_isprs'
]

LABEL_DIRS = {'label': 'ann_dir', 'eroded': 'ann_dir_eroded'}
STATE_DIR = '.isprs_convert'
# what a damaged zip raises while it is opened or read
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError)


class ConversionError(ValueError):
    """Bad input or an output folder from an incompatible earlier run."""


@dataclass
class Source:
    """One raw file: ``chain`` is the path followed by nested zip members."""
    chain: Tuple[str, ...]

    @property
    def name(self) -> str:
        return ':'.join(self.chain)

    @property
    def context(self) -> str:
        """Names of the zips and folders that hold the file (the parent
        folder only, for a plain file)."""
        if len(self.chain) == 1:
            return osp.basename(osp.dirname(self.chain[0]))
        return '/'.join([osp.basename(self.chain[0])] + list(self.chain[1:-1])
                        + [osp.dirname(self.chain[-1])])

    def fingerprint(self, known: Optional[Dict[str, int]] = None
                    ) -> Dict[str, int]:
        """``size`` and ``crc32`` of the file's bytes: from the zip's
        directory for a member (nothing is decompressed), computed for a
        plain file, whose ``mtime_ns`` is kept too: a ``known`` fingerprint
        with the file's size and mtime is returned without reading it.

        Raises:
            ConversionError: as :meth:`read`.
        """
        try:
            if len(self.chain) == 1:
                stat = os.stat(self.chain[0])
                if known is not None and (known.get('size'),
                                          known.get('mtime_ns')) == (
                                              stat.st_size, stat.st_mtime_ns):
                    return known
                crc = 0
                with open(self.chain[0], 'rb') as f:
                    for block in iter(lambda: f.read(1 << 24), b''):
                        crc = zlib.crc32(block, crc)
                return dict(size=stat.st_size, crc32=crc,
                            mtime_ns=stat.st_mtime_ns)
            with zipfile.ZipFile(self.chain[0]) as zf:
                for member in self.chain[1:-1]:
                    zf = zipfile.ZipFile(zf.open(member))
                info = zf.getinfo(self.chain[-1])
            return dict(size=info.file_size, crc32=info.CRC)
        except ZIP_ERRORS as err:
            raise ConversionError(f'{self.name}: cannot be read '
                                  f'({type(err).__name__}: {err})') from err

    def read(self) -> np.ndarray:
        """Decode the file as OpenCV does (BGR / BGRA channel order).

        Raises:
            ConversionError: naming the archive and member for a damaged
                zip, an unreadable file or data that is not an image.
        """
        try:
            if len(self.chain) == 1:
                with open(self.chain[0], 'rb') as f:
                    data = f.read()
            else:
                with zipfile.ZipFile(self.chain[0]) as zf:
                    for member in self.chain[1:-1]:
                        zf = zipfile.ZipFile(zf.open(member))
                    data = zf.read(self.chain[-1])
        except ZIP_ERRORS as err:
            raise ConversionError(f'{self.name}: cannot be read '
                                  f'({type(err).__name__}: {err})') from err
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ConversionError(f'{self.name}: not a readable image')
        return img


def _zip_sources(zf: zipfile.ZipFile,
                 chain: Tuple[str, ...]) -> Iterator[Source]:
    for member in sorted(zf.namelist()):
        if member.lower().endswith('.tif'):
            yield Source(chain + (member, ))
        elif member.lower().endswith('.zip'):
            inner = chain + (member, )
            try:
                nested = zipfile.ZipFile(zf.open(member))
            except ZIP_ERRORS as err:
                raise ConversionError(
                    f'{":".join(inner)}: cannot be read as a zip '
                    f'({type(err).__name__}: {err})') from err
            yield from _zip_sources(nested, inner)


def find_sources(inputs: Union[str, Sequence[str]]) -> Iterator[Source]:
    """All ``.tif`` files in the given folders / zips (recursively).

    Raises:
        ConversionError: for a missing input or a damaged zip, naming it.
    """
    if isinstance(inputs, str):
        inputs = [inputs]
    for path in inputs:
        if not osp.exists(path):
            raise ConversionError(f'{path}: no such file or folder')
        if osp.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for f in sorted(files):
                    if not is_partial(f):  # an unfinished atomic_write
                        yield from find_sources([osp.join(root, f)])
        elif path.lower().endswith('.zip'):
            try:
                zf = zipfile.ZipFile(path)
            except ZIP_ERRORS as err:
                raise ConversionError(
                    f'{path}: cannot be read as a zip '
                    f'({type(err).__name__}: {err})') from err
            with zf:
                yield from _zip_sources(zf, (path, ))
        elif path.lower().endswith('.tif'):
            yield Source((path, ))


def classify(dataset: str,
             source: Source,
             modality: str = 'RGB') -> Optional[Tuple[Union[int, str], str]]:
    """``(key, kind)`` of a raw file, kind in image / label / eroded, or
    ``None`` for files the conversion does not use (DSMs, other bands)."""
    base = osp.basename(source.chain[-1])
    if dataset == 'vaihingen':
        m = re.fullmatch(r'top_mosaic_09cm_area(\d+)(_noBoundary)?\.tif', base)
        if m is None:
            return None
        key = int(m.group(1))
        if m.group(2):
            return key, 'eroded'
        # Images and full labels share a file name; labels come in the
        # ground-truth archives (or the 'gts_for_participants' folder).
        is_gt = re.search(r'ground_?truth|gts', source.context, re.IGNORECASE)
        return key, 'label' if is_gt else 'image'
    m = re.fullmatch(r'top_potsdam_(\d+_\d+)_(\w+?)\.tif', base)
    if m is None:
        return None
    key, what = m.groups()
    kinds = {'label': 'label', 'label_noBoundary': 'eroded', modality: 'image'}
    return (key, kinds[what]) if what in kinds else None


def colour_to_index(img: np.ndarray, source_name: str) -> np.ndarray:
    """(H, W, 3) BGR colour label -> (H, W) uint8 values 0..6.

    Raises:
        ConversionError: naming the file, the first unknown colour and its
            pixel position.
    """
    if img.ndim != 3 or img.shape[2] not in (3, 4) or img.dtype != np.uint8:
        raise ConversionError(
            f'{source_name}: a colour label must be 8-bit with 3 channels, '
            f'got shape {img.shape} and dtype {img.dtype}')
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
            f'ISPRS palette ' + ', '.join(
                f'RGB{c} {n}'
                for c, n in zip(LABEL_COLOURS, LABEL_COLOUR_NAMES)))
    return order[pos].astype(np.uint8)


def tile_boxes(height: int, width: int, size: int,
               stride: int) -> List[Tuple[int, int, int, int]]:
    """``(x0, y0, x1, y1)`` boxes of the tiles of an image: windows of
    ``size`` every ``stride`` px, the last row and column moved back to end
    at the border (:func:`~mmseg_stunet.utils.tiling.window_starts`)."""
    return [(x, y, min(x + size, width), min(y + size, height))
            for y in window_starts(height, size, stride)
            for x in window_starts(width, size, stride)]


def stitch_tiles(tile_dir: str, prefix: str) -> np.ndarray:
    """The image or label of one area put back together from the tiles
    ``<prefix>_<x0>_<y0>_<x1>_<y1>.png`` that :func:`convert_isprs` wrote
    into ``tile_dir`` (overlapping tiles hold the same pixels)."""
    tiles = {}
    for entry in os.listdir(tile_dir):
        parsed = parse_tile_name(entry)
        if parsed and parsed[0] == prefix and entry.endswith('.png'):
            tiles[parsed[1]] = cv2.imread(
                osp.join(tile_dir, entry), cv2.IMREAD_UNCHANGED)
    if not tiles:
        raise FileNotFoundError(f'no tiles {prefix}_*.png in {tile_dir}')
    height = max(box[3] for box in tiles)
    width = max(box[2] for box in tiles)
    first = next(iter(tiles.values()))
    out = np.zeros((height, width) + first.shape[2:], first.dtype)
    for (x0, y0, x1, y1), tile in tiles.items():
        out[y0:y1, x0:x1] = tile
    return out


def _write_png(path: str, array: np.ndarray) -> None:
    """Encode ``array`` as PNG and move it into place in one rename."""
    ok, buf = cv2.imencode('.png', array)
    if not ok:
        raise ConversionError(f'{path}: OpenCV could not encode the tile')
    _write_bytes(path, buf.tobytes())


def _write_bytes(path: str, data: bytes) -> None:
    with atomic_write(path) as tmp, open(tmp, 'wb') as f:
        f.write(data)


@dataclass
class Summary:
    """Tile counts per split and the keys that were not converted."""
    tiles: Dict[str, int] = field(default_factory=lambda: {
        'train': 0,
        'val': 0
    })
    converted: list = field(default_factory=list)
    skipped_finished: list = field(default_factory=list)
    not_in_split: list = field(default_factory=list)
    #: split keys left out with ``allow_missing``: key -> missing kinds
    incomplete: Dict[Union[int, str], List[str]] = field(default_factory=dict)
    #: split keys of which no file was found at all
    absent: list = field(default_factory=list)


def _tile_prefix(dataset: str, key: Union[int, str]) -> str:
    return f'area{key}' if dataset == 'vaihingen' else str(key)


def _check_state(out_dir: str, params: dict) -> str:
    """Refuse an out_dir filled by a run with other tiling/split settings."""
    state = osp.join(out_dir, STATE_DIR)
    os.makedirs(state, exist_ok=True)
    pfile = osp.join(state, 'params.json')
    if osp.exists(pfile):
        with open(pfile) as f:
            old = json.load(f)
        if old != params:
            raise ConversionError(
                f'{out_dir} holds a conversion with settings {old}, not '
                f'{params}; choose another output folder or delete it')
    else:
        _write_bytes(pfile, json.dumps(params).encode())
    return state


def _group_sources(dataset: str, inputs: Union[str, Sequence[str]],
                   modality: str) -> Dict[Union[int, str], Dict[str, Source]]:
    """{key: {kind: Source}} of the files found in ``inputs``."""
    groups: Dict[Union[int, str], Dict[str, Source]] = {}
    for src in find_sources(inputs):
        found = classify(dataset, src, modality)
        if found is None:
            continue
        key, kind = found
        slot = groups.setdefault(key, {})
        old = slot.get(kind)
        # Vaihingen labels come twice in the full release (the early
        # 'gts_for_participants' and the COMPLETE archive): keep COMPLETE.
        new_complete = 'complete' in src.context.lower()
        if old is None or (new_complete
                           and 'complete' not in old.context.lower()):
            slot[kind] = src
        elif not ('complete' in old.context.lower() and not new_complete):
            raise ConversionError(
                f'two {kind} files for {dataset} {key}: {old.name} and '
                f'{src.name}; pass one copy (Vaihingen labels must be in a '
                'zip or folder named like *ground_truth* or *gts*)')
    if not groups:
        raise ConversionError(
            f'no {dataset} files found in {inputs}; expected the ISPRS zips '
            'or folders (see docs/data.md)')
    return groups


def convert_isprs(dataset: str,
                  inputs: Union[str, Sequence[str]],
                  out_dir: str,
                  size: int = 256,
                  stride: Optional[int] = None,
                  split: str = 'paper',
                  modality: str = 'RGB',
                  progress: bool = True,
                  allow_missing: bool = False) -> Summary:
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
        raise ConversionError(f'unknown dataset {dataset!r}; choose from '
                              f'{sorted(SPLITS)}')
    if split not in SPLITS[dataset]:
        raise ConversionError(f'unknown split {split!r}; choose from '
                              f'{sorted(SPLITS[dataset])}')
    if dataset == 'potsdam' and modality not in POTSDAM_MODALITIES:
        raise ConversionError(f'unknown Potsdam modality {modality!r}; choose '
                              f'from {POTSDAM_MODALITIES}')
    paths = [inputs] if isinstance(inputs, str) else inputs
    try:
        check_outputs({'out_dir (-o)': out_dir}, [('input', p) for p in paths])
    except UnsafeOutputError as e:
        raise ConversionError(str(e)) from e
    stride = size if stride is None else stride
    if size <= 0:
        raise ConversionError(f'--size must be a positive number of pixels, '
                              f'got {size}')
    if not 0 < stride <= size:
        raise ConversionError(
            f'--stride must be between 1 and --size ({size}), got {stride}: '
            + ('tiles further apart than their size would leave the pixels '
               'between them out' if stride > 0 else 'tiles need a step'))
    groups = _group_sources(dataset, inputs, modality)
    which = {k: s for s, keys in SPLITS[dataset][split].items() for k in keys}
    summary = Summary(not_in_split=sorted(k for k in groups if k not in which),
                      absent=[k for k in which if k not in groups])
    # every area needs the image and each label kind found for any area
    needed = {'image'} | {
        kind
        for key, kinds in groups.items() if key in which for kind in kinds
    }
    summary.incomplete = {
        key: sorted(needed - set(kinds))
        for key, kinds in sorted(groups.items())
        if key in which and needed - set(kinds)
    }
    if not (needed & {'label', 'eroded'}):
        raise ConversionError(
            f'no {dataset} label files found in {inputs}; pass the ground '
            'truth archives too (see docs/data.md)')
    if (summary.incomplete or summary.absent) and not allow_missing:
        problems = [f'{_tile_prefix(dataset, k)} lacks {" and ".join(v)}'
                    for k, v in summary.incomplete.items()]
        if summary.absent:
            problems.append('no file at all for ' + ', '.join(
                _tile_prefix(dataset, k) for k in summary.absent))
        raise ConversionError(
            f'the {split} split of {dataset} is incomplete in {inputs}: ' +
            '; '.join(problems) + '; pass the missing archives, or '
            'allow_missing (--allow-missing) to convert what is there')
    todo = [
        k for k in sorted(groups) if k in which and k not in summary.incomplete
    ]

    params = dict(dataset=dataset, size=size, stride=stride, split=split)
    if dataset == 'potsdam':
        params['modality'] = modality
    state = _check_state(out_dir, params)
    for key in todo:
        _check_unchanged(out_dir, _tile_prefix(dataset, key), groups[key],
                         osp.join(state, f'{_tile_prefix(dataset, key)}.json'))
    bar = None
    if progress and todo:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(todo), file=sys.stdout)
    for key in todo:
        split_name = which[key]
        done_file = osp.join(state, f'{_tile_prefix(dataset, key)}.json')
        n = _convert_one(dataset, key, groups[key], out_dir, split_name, size,
                         stride, done_file, image_bands(dataset, modality))
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


def _check_unchanged(out_dir: str, prefix: str, kinds: Dict[str, Source],
                     done_file: str) -> None:
    """Refuse to re-run into ``out_dir`` with source files whose content
    differs from those the finished area ``prefix`` was converted from (its
    tiles, of which only the names would be checked, would be stale), or
    with a file kind the area was converted without."""
    if not osp.exists(done_file):
        return
    with open(done_file) as f:
        done = json.load(f)
    old = done.get('fingerprints')
    for kind, src in sorted(kinds.items()):
        if old is None:  # written by a version without fingerprints
            same = src.name in done.get('sources', [])
        else:
            known = old.get(kind)
            new = src.fingerprint(known)
            same = known is not None and all(
                known[k] == new[k] for k in ('size', 'crc32'))
        if not same:
            raise ConversionError(
                f'{src.name}: not the {kind} file that {prefix} in {out_dir} '
                'was converted from (the content differs, or that area has no '
                f'{kind} tiles), so its tiles there would be stale; convert '
                f'into a new folder, or delete {out_dir} first')


def _convert_one(dataset: str, key: Union[int, str], kinds: Dict[str, Source],
                 out_dir: str, split_name: str, size: int, stride: int,
                 done_file: str,
                 bands: Sequence[str]) -> Optional[int]:
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
            'band(s)')
    labels = {}
    for kind in ('label', 'eroded'):
        if kind in kinds:
            lab = kinds[kind].read()
            if lab.shape[:2] != image.shape[:2]:
                raise ConversionError(
                    f'{kinds[kind].name}: label is {lab.shape[1]}x'
                    f'{lab.shape[0]} pixels but the image '
                    f'{kinds["image"].name} is {image.shape[1]}x'
                    f'{image.shape[0]}')
            labels[kind] = colour_to_index(lab, kinds[kind].name)
    # Only now that every input decoded and validated, write tiles.
    prefix = _tile_prefix(dataset, key)
    tiles, files = [], []
    for x0, y0, x1, y1 in tile_boxes(image.shape[0], image.shape[1], size,
                                     stride):
        name = tile_name(prefix, (x0, y0, x1, y1))
        outputs = [('img_dir', image)] + [(LABEL_DIRS[k], v)
                                          for k, v in labels.items()]
        for sub, arr in outputs:
            rel = osp.join(sub, split_name, name)
            os.makedirs(osp.join(out_dir, sub, split_name), exist_ok=True)
            _write_png(osp.join(out_dir, rel), arr[y0:y1, x0:x1])
            files.append(rel)
        tiles.append(name)
    _write_bytes(
        done_file,
        json.dumps(dict(split=split_name, tiles=tiles, files=files,
                        sources=[s.name for s in kinds.values()],
                        fingerprints={k: s.fingerprint()
                                      for k, s in kinds.items()})).encode())
    return len(tiles)
