"""Convert the LoveDA archives into MMSegmentation's layout.

Input: ``Train.zip``, ``Val.zip``, ``Test.zip`` as LoveDA distributes them
(or their extracted folders, or a folder holding them)::

    Train/Urban/images_png/1366.png   Train/Urban/masks_png/1366.png
    Train/Rural/images_png/0.png      Train/Rural/masks_png/0.png
    Val/...                           Test/... (images only)

Output, as MMSegmentation's ``tools/dataset_converters/loveda.py`` writes it
(Urban and Rural in one folder; ``LoveDADataset`` reads it)::

    out_dir/img_dir/{train,val,test}/<n>.png
    out_dir/ann_dir/{train,val}/<n>.png

Unlike MMSegmentation's converter (which extracts everything, asserts that
the three zips are there and moves files), this one checks before writing
anything: every train / val image has its mask and the reverse, masks are
8-bit single-channel PNGs of their image's size holding LoveDA's values
0..7 (0 no-data), an image number occurs once per split (not in both
domains), and the output folder is not inside an input. Files are copied
byte for byte and atomically; a re-run skips files already there with the
same content and refuses ones whose content differs (a changed source), or
another choice of domains, naming the file.
"""

import json
import os
import os.path as osp
import re
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ..datasets.loveda import LOVEDA_CLASSES, LOVEDA_DOMAINS, LOVEDA_SPLITS
from ..utils.atomic import atomic_write, is_partial
from ..utils.paths import UnsafeOutputError, check_outputs
from .sources import ZIP_ERRORS, ConversionError

__all__ = ['LoveDASummary', 'convert_loveda', 'find_loveda_files']

STATE_FILE = osp.join('.loveda_convert', 'params.json')
_MEMBER = re.compile(
    r'(?:^|.*/)(Train|Val|Test)/(Urban|Rural)/'
    r'(images_png|masks_png)/([^/]+\.png)$'
)
#: (archive split, domain, kind, name) -> where the bytes are
Key = Tuple[str, str, str, str]


@dataclass
class _File:
    """A file on disk (``member`` None) or a member of the zip ``path``."""

    path: str
    member: Optional[str] = None

    @property
    def name(self) -> str:
        return (
            self.path if self.member is None else f'{self.path}:{self.member}'
        )

    def read(self) -> bytes:
        try:
            if self.member is None:
                with open(self.path, 'rb') as f:
                    return f.read()
            with zipfile.ZipFile(self.path) as zf:
                return zf.read(self.member)
        except ZIP_ERRORS as err:
            raise ConversionError(
                f'{self.name}: cannot be read ({type(err).__name__}: {err})'
            ) from err


@dataclass
class LoveDASummary:
    """Files written and already there, per output split."""

    written: Dict[str, int] = field(default_factory=dict)
    unchanged: Dict[str, int] = field(default_factory=dict)
    missing_splits: List[str] = field(default_factory=list)


def find_loveda_files(inputs: Union[str, Sequence[str]]) -> Dict[Key, _File]:
    """The LoveDA PNGs in ``inputs`` (zips, folders, folders of zips).

    Raises:
        ConversionError: a missing input, a damaged zip, or the same file
            found twice (naming both).
    """
    found: Dict[Key, _File] = {}

    def add(rel: str, where: _File) -> None:
        m = _MEMBER.match(rel.replace(os.sep, '/'))
        if m is None:
            return
        key = m.groups()
        if key in found:
            raise ConversionError(
                f'{key[0]}/{key[1]}/{key[2]}/{key[3]} found twice: '
                f'{found[key].name} and {where.name}; pass one copy'
            )
        found[key] = where

    def add_zip(path: str) -> None:
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except ZIP_ERRORS as err:
            raise ConversionError(
                f'{path}: cannot be read as a zip '
                f'({type(err).__name__}: {err})'
            ) from err
        for member in sorted(names):
            add(member, _File(path, member))

    for path in [inputs] if isinstance(inputs, str) else inputs:
        if not osp.exists(path):
            raise ConversionError(f'{path}: no such file or folder')
        if osp.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for f in sorted(files):
                    full = osp.join(root, f)
                    if is_partial(f):
                        continue
                    if f.lower().endswith('.zip'):
                        add_zip(full)
                    else:
                        add(
                            osp.relpath(full, osp.dirname(osp.abspath(path))),
                            _File(full),
                        )
        elif path.lower().endswith('.zip'):
            add_zip(path)
    return found


def _check_mask(
    data: bytes, image: bytes, where: str, image_name: str
) -> None:
    """Refuse a mask that is not 8-bit single-channel, not of its image's
    size, or holds a value past LoveDA's 0..7, naming file and pixel."""
    mask = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise ConversionError(f'{where}: not a readable PNG')
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ConversionError(
            f'{where}: a LoveDA mask must be 8-bit with one channel, got '
            f'shape {mask.shape} and dtype {mask.dtype}'
        )
    n = len(LOVEDA_CLASSES)
    if mask.max() > n:
        y, x = (int(v) for v in np.argwhere(mask > n)[0])
        raise ConversionError(
            f'{where}: mask value {int(mask[y, x])} at pixel (x={x}, y={y}) '
            f"is not LoveDA's: valid are 0 (no-data) and 1..{n} "
            f'({", ".join(LOVEDA_CLASSES)})'
        )
    img = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ConversionError(f'{image_name}: not a readable PNG')
    if img.shape[:2] != mask.shape:
        raise ConversionError(
            f'{where}: mask is {mask.shape[1]}x{mask.shape[0]} pixels but '
            f'its image {image_name} is {img.shape[1]}x{img.shape[0]}'
        )


def _same_content(path: str, data: bytes) -> Optional[bool]:
    """None if ``path`` does not exist, else whether it holds ``data``."""
    if not osp.exists(path):
        return None
    if osp.getsize(path) != len(data):
        return False
    with open(path, 'rb') as f:
        return zlib.crc32(f.read()) == zlib.crc32(data)


def convert_loveda(
    inputs: Union[str, Sequence[str]],
    out_dir: str,
    domains: Sequence[str] = LOVEDA_DOMAINS,
    allow_missing: bool = False,
    progress: bool = True,
) -> LoveDASummary:
    """Copy the LoveDA archives ``inputs`` into ``out_dir`` in
    MMSegmentation's layout, checking them first (see the module doc).

    Args:
        inputs (str | list[str]): zips and/or folders.
        out_dir (str): output root (``img_dir``, ``ann_dir``).
        domains (Sequence[str]): ``'Urban'`` and/or ``'Rural'``.
        allow_missing (bool): convert when Train, Val or Test is absent
            (listed in the summary); default: an error.
        progress (bool): show a progress bar.

    Raises:
        ConversionError: bad arguments or input, naming the file.
    """
    domains = tuple(domains)
    bad = [d for d in domains if d not in LOVEDA_DOMAINS]
    if bad or not domains:
        raise ConversionError(
            f'unknown LoveDA domain(s) {bad or domains}; '
            f'choose from {LOVEDA_DOMAINS}'
        )
    paths = [inputs] if isinstance(inputs, str) else list(inputs)
    try:
        check_outputs({'out_dir (-o)': out_dir}, [('input', p) for p in paths])
    except UnsafeOutputError as e:
        raise ConversionError(str(e)) from e
    files = {
        k: v for k, v in find_loveda_files(paths).items() if k[1] in domains
    }
    if not files:
        raise ConversionError(
            f'no LoveDA {"/".join(domains)} files found in {paths}; expected '
            'Train.zip, Val.zip, Test.zip or their folders '
            '(<Split>/<Urban|Rural>/images_png/*.png, see docs/data.md)'
        )
    summary = LoveDASummary()
    summary.missing_splits = [
        s for s in LOVEDA_SPLITS if not any(k[0] == s for k in files)
    ]
    if summary.missing_splits and not allow_missing:
        raise ConversionError(
            f'no {", ".join(summary.missing_splits)} files in {paths}; pass '
            'the missing archives, or allow_missing (--allow-missing) to '
            'convert what is there'
        )
    # pairs and unique names, before anything is written
    owners: Dict[Tuple[str, str, str], Key] = {}
    for key in sorted(files):
        split, domain, kind, name = key
        other = owners.setdefault((split, kind, name), key)
        if other != key:
            raise ConversionError(
                f'{name} is in both {files[other].name} and {files[key].name}'
                f': one {split} folder cannot hold both; convert the domains '
                'into separate folders (--domains)'
            )
    for key in sorted(files):
        split, domain, kind, name = key
        if split == 'Test':
            continue
        pair = 'masks_png' if kind == 'images_png' else 'images_png'
        if (split, domain, pair, name) not in files:
            raise ConversionError(
                f'{files[key].name}: no {pair[:-4].rstrip("s")} '
                f'{split}/{domain}/{pair}/{name} for it'
            )
    state = osp.join(out_dir, STATE_FILE)
    params = dict(domains=sorted(domains))
    if osp.exists(state):
        with open(state) as f:
            old = json.load(f)
        if old != params:
            raise ConversionError(
                f'{out_dir} holds a conversion with settings {old}, not '
                f'{params}; choose another output folder or delete it'
            )
    todo = sorted(k for k in files if k[2] == 'images_png')
    # check every mask (and its size) before writing
    for split, domain, _, name in todo:
        if split != 'Test':
            mask = files[(split, domain, 'masks_png', name)]
            image = files[(split, domain, 'images_png', name)]
            _check_mask(mask.read(), image.read(), mask.name, image.name)
    os.makedirs(osp.dirname(state), exist_ok=True)
    if not osp.exists(state):
        with atomic_write(state) as tmp, open(tmp, 'w') as f:
            json.dump(params, f)
    bar = None
    if progress and todo:
        from mmengine.utils import ProgressBar

        bar = ProgressBar(len(todo), file=sys.stdout)
    for split, domain, _, name in todo:
        out_split = LOVEDA_SPLITS[split]
        kinds = [('images_png', 'img_dir')]
        if split != 'Test':
            kinds.append(('masks_png', 'ann_dir'))
        for kind, sub in kinds:
            src = files[(split, domain, kind, name)]
            data = src.read()
            dst = osp.join(out_dir, sub, out_split, name)
            same = _same_content(dst, data)
            if same is False:
                raise ConversionError(
                    f'{src.name}: differs from {dst}, written by an earlier '
                    'conversion from other files; convert into a new folder, '
                    f'or delete {out_dir} first'
                )
            if same:
                summary.unchanged[out_split] = (
                    summary.unchanged.get(out_split, 0) + 1
                )
                continue
            os.makedirs(osp.dirname(dst), exist_ok=True)
            with atomic_write(dst) as tmp, open(tmp, 'wb') as f:
                f.write(data)
            summary.written[out_split] = summary.written.get(out_split, 0) + 1
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    return summary
