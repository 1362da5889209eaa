"""Files that readers see either as before or whole: write beside, rename."""
import os
import os.path as osp
from contextlib import contextmanager
from typing import Iterator

__all__ = ['partial_path', 'is_partial', 'atomic_write']


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
