"""Files that readers see either as before or whole: write beside, rename."""

import os
import os.path as osp
import shutil
from contextlib import contextmanager
from typing import Iterator

__all__ = ['partial_path', 'is_partial', 'atomic_write', 'atomic_folder']


def partial_path(path: str) -> str:
    """Hidden temporary name next to ``path`` keeping its extension (cv2,
    rasterio and torch.onnx pick the format from it)."""
    head, tail = osp.split(path)
    return osp.join(head, f'.{tail}.partial{osp.splitext(tail)[1]}')


def is_partial(name: str) -> bool:
    """Whether a file name is a :func:`partial_path` (an unfinished write)."""
    tail = osp.basename(name)
    return tail.startswith('.') and '.partial' in tail


def _fsync(path: str):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path: str, durable: bool = False) -> Iterator[str]:
    """Yield :func:`partial_path` of ``path`` to write to; when the block
    succeeds, move it onto ``path`` in one rename, otherwise delete it.

    ``durable`` also flushes the file and its folder to disk around the
    rename, so a power cut cannot leave ``path`` empty (checkpoints).
    """
    tmp = partial_path(path)
    try:
        yield tmp
        if durable:
            _fsync(tmp)
        os.replace(tmp, path)
        if durable:
            _fsync(osp.dirname(osp.abspath(path)))
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


@contextmanager
def atomic_folder(
    path: str, finish: bool = True, label: str = ''
) -> Iterator[str]:
    """Yield a hidden sibling folder (:func:`partial_path` of ``path``) to
    fill; when the block succeeds, move its files into ``path``, otherwise
    delete it. ``path`` thus never holds a partial set of files: a stopped
    or failed run leaves it as it was.

    ``path`` is made by one rename when it does not exist yet; an existing
    ``path`` keeps its other files and receives each new file by a rename
    (same names are replaced). A stale sibling from a killed run is
    replaced first. ``finish=False`` (other ranks of a distributed run, which
    write into the same sibling) leaves the sibling to the process that
    finishes.

    Raises:
        OSError: one line naming ``path`` (after ``label``, such as the
            option that gave it) when it is a file or cannot be written,
            before the block runs.
    """
    name = f'{label} {path}'.strip()
    path = osp.normpath(path)
    tmp = partial_path(path)
    if osp.exists(path) and not osp.isdir(path):
        raise NotADirectoryError(f'{name}: is a file, not a folder')
    if osp.isdir(path) and not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(f'{name}: folder not writable')
    try:
        if finish and osp.isdir(tmp):
            shutil.rmtree(tmp)  # left by a killed run
        os.makedirs(tmp, exist_ok=True)
    except OSError as err:
        raise type(err)(
            f'{name}: cannot write there ({err.strerror or err})'
        ) from err
    done = False
    try:
        yield tmp
        done = True
    finally:
        if finish and not done:
            shutil.rmtree(tmp, ignore_errors=True)
    if not finish:
        return
    if not osp.isdir(path):
        os.rename(tmp, path)
        return
    for name in sorted(os.listdir(tmp)):
        os.replace(osp.join(tmp, name), osp.join(path, name))
    os.rmdir(tmp)
