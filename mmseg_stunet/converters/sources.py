"""Finding the raw ISPRS files: zips (nested ones included), extracted
folders, single files; telling images from full and eroded labels; and
grouping them by area (Vaihingen) or tile (Potsdam)."""

import os
import os.path as osp
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import Dict, Iterator, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ..utils.atomic import is_partial

__all__ = [
    'ConversionError',
    'ZIP_ERRORS',
    'Source',
    'find_sources',
    'classify',
    'group_sources',
]

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
        return '/'.join(
            [osp.basename(self.chain[0])]
            + list(self.chain[1:-1])
            + [osp.dirname(self.chain[-1])]
        )

    def fingerprint(
        self, known: Optional[Dict[str, int]] = None
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
                if known is not None and (
                    known.get('size'),
                    known.get('mtime_ns'),
                ) == (stat.st_size, stat.st_mtime_ns):
                    return known
                crc = 0
                with open(self.chain[0], 'rb') as f:
                    for block in iter(lambda: f.read(1 << 24), b''):
                        crc = zlib.crc32(block, crc)
                return dict(
                    size=stat.st_size, crc32=crc, mtime_ns=stat.st_mtime_ns
                )
            with zipfile.ZipFile(self.chain[0]) as zf:
                for member in self.chain[1:-1]:
                    zf = zipfile.ZipFile(zf.open(member))
                info = zf.getinfo(self.chain[-1])
            return dict(size=info.file_size, crc32=info.CRC)
        except ZIP_ERRORS as err:
            raise ConversionError(
                f'{self.name}: cannot be read ({type(err).__name__}: {err})'
            ) from err

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
            raise ConversionError(
                f'{self.name}: cannot be read ({type(err).__name__}: {err})'
            ) from err
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ConversionError(f'{self.name}: not a readable image')
        return img


def _zip_sources(
    zf: zipfile.ZipFile, chain: Tuple[str, ...]
) -> Iterator[Source]:
    for member in sorted(zf.namelist()):
        if member.lower().endswith('.tif'):
            yield Source(chain + (member,))
        elif member.lower().endswith('.zip'):
            inner = chain + (member,)
            try:
                nested = zipfile.ZipFile(zf.open(member))
            except ZIP_ERRORS as err:
                raise ConversionError(
                    f'{":".join(inner)}: cannot be read as a zip '
                    f'({type(err).__name__}: {err})'
                ) from err
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
                    f'({type(err).__name__}: {err})'
                ) from err
            with zf:
                yield from _zip_sources(zf, (path,))
        elif path.lower().endswith('.tif'):
            yield Source((path,))


def classify(
    dataset: str, source: Source, modality: str = 'RGB'
) -> Optional[Tuple[Union[int, str], str]]:
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


def group_sources(
    dataset: str, inputs: Union[str, Sequence[str]], modality: str
) -> Dict[Union[int, str], Dict[str, Source]]:
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
        if old is None or (
            new_complete and 'complete' not in old.context.lower()
        ):
            slot[kind] = src
        elif not ('complete' in old.context.lower() and not new_complete):
            raise ConversionError(
                f'two {kind} files for {dataset} {key}: {old.name} and '
                f'{src.name}; pass one copy (Vaihingen labels must be in a '
                'zip or folder named like *ground_truth* or *gts*)'
            )
    if not groups:
        raise ConversionError(
            f'no {dataset} files found in {inputs}; expected the ISPRS zips '
            'or folders (see docs/data.md)'
        )
    return groups
