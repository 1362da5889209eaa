"""Resumable conversion state in ``<out_dir>/.isprs_convert``: the
settings of the conversion (``params.json``) and, per finished area, the
tiles written and the fingerprints of the source files they came from."""

import json
import os
import os.path as osp
from typing import Dict

from ..utils.atomic import atomic_write
from .sources import ConversionError, Source

__all__ = ['STATE_DIR', 'check_state', 'check_unchanged', 'write_bytes']

STATE_DIR = '.isprs_convert'


def write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary name, rename)."""
    with atomic_write(path) as tmp, open(tmp, 'wb') as f:
        f.write(data)


def check_state(out_dir: str, params: dict) -> str:
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
                f'{params}; choose another output folder or delete it'
            )
    else:
        write_bytes(pfile, json.dumps(params).encode())
    return state


def check_unchanged(
    out_dir: str, prefix: str, kinds: Dict[str, Source], done_file: str
) -> None:
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
                known[k] == new[k] for k in ('size', 'crc32')
            )
        if not same:
            raise ConversionError(
                f'{src.name}: not the {kind} file that {prefix} in {out_dir} '
                'was converted from (the content differs, or that area has no '
                f'{kind} tiles), so its tiles there would be stale; convert '
                f'into a new folder, or delete {out_dir} first'
            )
