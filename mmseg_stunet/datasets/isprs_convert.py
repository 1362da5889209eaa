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
tiles exist, and a re-run skips finished ones.
"""
import json
import os
import os.path as osp
import re
import sys
import zipfile
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..utils.atomic import atomic_write, is_partial

ISPRS_CLASSES = ('impervious_surface', 'building', 'low_vegetation', 'tree',
                 'car', 'clutter')
# RGB colour of label value 0 (boundary) and of the classes 1..6.
ISPRS_PALETTE = ((0, 0, 0), (255, 255, 255), (0, 0, 255), (0, 255, 255),
                 (0, 255, 0), (255, 255, 0), (255, 0, 0))
ISPRS_COLOUR_NAMES = ('boundary (black)', 'impervious surface (white)',
                      'building (blue)', 'low vegetation (cyan)',
                      'tree (green)', 'car (yellow)', 'clutter (red)')

# He et al. 2022 (spec section 6) and MMSegmentation's converters.
SPLITS = {
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
POTSDAM_MODALITIES = ('RGB', 'IRRG', 'RGBIR')
LABEL_DIRS = {'label': 'ann_dir', 'eroded': 'ann_dir_eroded'}
STATE_DIR = '.isprs_convert'


class ConversionError(ValueError):
    """Bad input or an output folder from an incompatible earlier run."""


@dataclass
class Source:
    """One raw file: ``chain`` is the path followed by nested zip members."""
    chain: tuple

    @property
    def name(self):
        return ':'.join(self.chain)

    @property
    def context(self):
        """Names of the zips and folders that hold the file (the parent
        folder only, for a plain file)."""
        if len(self.chain) == 1:
            return osp.basename(osp.dirname(self.chain[0]))
        return '/'.join([osp.basename(self.chain[0])] + list(self.chain[1:-1])
                        + [osp.dirname(self.chain[-1])])

    def read(self):
        """Decode the file as OpenCV does (BGR / BGRA channel order)."""
        if len(self.chain) == 1:
            with open(self.chain[0], 'rb') as f:
                data = f.read()
        else:
            zf = zipfile.ZipFile(self.chain[0])
            for member in self.chain[1:-1]:
                zf = zipfile.ZipFile(zf.open(member))
            data = zf.read(self.chain[-1])
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ConversionError(f'{self.name}: not a readable image')
        return img


def _zip_sources(zf, chain):
    for member in sorted(zf.namelist()):
        if member.lower().endswith('.tif'):
            yield Source(chain + (member, ))
        elif member.lower().endswith('.zip'):
            yield from _zip_sources(zipfile.ZipFile(zf.open(member)),
                                    chain + (member, ))


def find_sources(inputs):
    """All ``.tif`` files in the given folders / zips (recursively)."""
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
            with zipfile.ZipFile(path) as zf:
                yield from _zip_sources(zf, (path, ))
        elif path.lower().endswith('.tif'):
            yield Source((path, ))


def classify(dataset, source, modality='RGB'):
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


def colour_to_index(img, source_name):
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
    palette = np.array([(r << 16) | (g << 8) | b for r, g, b in ISPRS_PALETTE])
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
                for c, n in zip(ISPRS_PALETTE, ISPRS_COLOUR_NAMES)))
    return order[pos].astype(np.uint8)


def tile_starts(length, size, stride):
    """Window starts covering ``[0, length)``; the last window is moved back
    to end at the border (a single shorter window if ``length < size``)."""
    if length <= size:
        return [0]
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] + size < length:
        starts.append(length - size)
    return starts


def tile_boxes(height, width, size, stride):
    """``(x0, y0, x1, y1)`` boxes of the tiles of an image."""
    return [(x, y, min(x + size, width), min(y + size, height))
            for y in tile_starts(height, size, stride)
            for x in tile_starts(width, size, stride)]


def atomic_write_png(path, array):
    """Encode ``array`` as PNG and move it into place in one rename."""
    ok, buf = cv2.imencode('.png', array)
    if not ok:
        raise ConversionError(f'{path}: OpenCV could not encode the tile')
    atomic_write_bytes(path, buf.tobytes())


def atomic_write_bytes(path, data):
    with atomic_write(path) as tmp, open(tmp, 'wb') as f:
        f.write(data)


@dataclass
class Summary:
    """Tile counts per split and the keys that were not converted."""
    tiles: dict = field(default_factory=lambda: {'train': 0, 'val': 0})
    converted: list = field(default_factory=list)
    skipped_finished: list = field(default_factory=list)
    not_in_split: list = field(default_factory=list)
    without_labels: list = field(default_factory=list)


def _tile_prefix(dataset, key):
    return f'area{key}' if dataset == 'vaihingen' else str(key)


def _check_state(out_dir, params):
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
        atomic_write_bytes(pfile, json.dumps(params).encode())
    return state


def convert_isprs(dataset, inputs, out_dir, size=256, stride=None,
                  split='paper', modality='RGB', progress=True):
    """Tile the ISPRS archives ``inputs`` into ``out_dir``.

    Args:
        dataset (str): ``'vaihingen'`` or ``'potsdam'``.
        inputs (str | list[str]): zip files and/or folders.
        out_dir (str): output root (``img_dir``, ``ann_dir``, ...).
        size (int): tile size. stride (int): step, defaults to ``size``.
        split (str): ``'paper'`` (He et al. 2022) or ``'mmseg'``.
        modality (str): Potsdam image band set: RGB, IRRG or RGBIR.
        progress (bool): show a progress bar.

    Returns:
        Summary: tiles written per split and the keys left out.
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
    stride = stride or size
    if size <= 0 or stride <= 0:
        raise ConversionError(f'size and stride must be positive, got '
                              f'{size} and {stride}')
    groups = {}
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

    params = dict(dataset=dataset, size=size, stride=stride, split=split)
    if dataset == 'potsdam':
        params['modality'] = modality
    state = _check_state(out_dir, params)
    which = {k: s for s, keys in SPLITS[dataset][split].items() for k in keys}
    summary = Summary()
    todo = []
    for key in sorted(groups):
        kinds = groups[key]
        if key not in which:
            summary.not_in_split.append(key)
        elif 'image' not in kinds or not ({'label', 'eroded'} & set(kinds)):
            summary.without_labels.append(key)
        else:
            todo.append(key)

    bar = None
    if progress and todo:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(todo), file=sys.stdout)
    for key in todo:
        split_name = which[key]
        done_file = osp.join(state, f'{_tile_prefix(dataset, key)}.json')
        n = _convert_one(dataset, key, groups[key], out_dir, split_name, size,
                         stride, done_file)
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


def _convert_one(dataset, key, kinds, out_dir, split_name, size, stride,
                 done_file):
    """Write the tiles of one source tile; ``None`` if already finished."""
    if osp.exists(done_file):
        with open(done_file) as f:
            done = json.load(f)
        if all(osp.exists(osp.join(out_dir, p)) for p in done['files']):
            return None
    image = kinds['image'].read()
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
        name = f'{prefix}_{x0}_{y0}_{x1}_{y1}.png'
        outputs = [('img_dir', image)] + [(LABEL_DIRS[k], v)
                                          for k, v in labels.items()]
        for sub, arr in outputs:
            rel = osp.join(sub, split_name, name)
            os.makedirs(osp.join(out_dir, sub, split_name), exist_ok=True)
            atomic_write_png(osp.join(out_dir, rel), arr[y0:y1, x0:x1])
            files.append(rel)
        tiles.append(name)
    atomic_write_bytes(
        done_file,
        json.dumps(dict(split=split_name, tiles=tiles, files=files,
                        sources=[s.name for s in kinds.values()])).encode())
    return len(tiles)


def main(dataset, argv=None):
    """Command line of ``tools/dataset_converters/{vaihingen,potsdam}.py``."""
    import argparse
    parser = argparse.ArgumentParser(
        description=f'Convert the ISPRS {dataset.capitalize()} archives into '
        'MMSegmentation\'s img_dir/ann_dir layout')
    parser.add_argument(
        'inputs', nargs='+', help='zip files and/or folders as ISPRS '
        'distributes them (nested zips and extracted folders work)')
    parser.add_argument('-o', '--out-dir', default=osp.join('data', dataset))
    parser.add_argument('--size', type=int, default=256,
                        help='tile size (paper: 256; MMSegmentation: 512)')
    parser.add_argument('--stride', type=int, default=None,
                        help='tile step (default: size, non-overlapping; '
                        'MMSegmentation: 256 with size 512)')
    parser.add_argument('--split', default='paper',
                        choices=sorted(SPLITS[dataset]),
                        help='paper: He et al. 2022 train/test areas; '
                        'mmseg: MMSegmentation\'s train/val lists')
    if dataset == 'potsdam':
        parser.add_argument('--modality', default='RGB',
                            choices=POTSDAM_MODALITIES,
                            help='which image archive to tile')
    parser.add_argument('--no-progress', action='store_true')
    args = parser.parse_args(argv)
    try:
        s = convert_isprs(dataset, args.inputs, args.out_dir, args.size,
                          args.stride, args.split,
                          getattr(args, 'modality', 'RGB'),
                          not args.no_progress)
    except ConversionError as e:
        parser.exit(1, f'error: {e}\n')
    print(f'{args.out_dir}: {s.tiles["train"]} train and {s.tiles["val"]} val '
          f'tiles; converted {len(s.converted)}, already finished '
          f'{len(s.skipped_finished)}')
    if s.not_in_split:
        print(f'not in the {args.split} split: {s.not_in_split}')
    if s.without_labels:
        print(f'without image or labels (left out): {s.without_labels}')
    return s
