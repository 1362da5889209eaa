"""Paths of the configs and tools (in the source checkout, or shipped in an
installed package's ``.mim``) for the tools, the demo and the tests:
computed here once instead of in every script; and the one check every
tool makes before it writes, that no output lands on or in an input."""

import os
import os.path as osp
from typing import Iterable, List, Mapping, Optional, Tuple, Union

__all__ = [
    'project_root',
    'config_path',
    'UnsafeOutputError',
    'check_outputs',
    'check_output_kinds',
]


def project_root() -> str:
    """The folder that holds ``configs/`` and ``tools/``: the checkout this
    package lies in (a source checkout or an editable install), else the
    installed package's ``.mim`` folder, where a non-editable install
    (``pip install .``) ships them for ``mim`` (see setup.py).

    Raises:
        FileNotFoundError: neither holds a ``configs/`` folder (a package
            built without them): pass config paths explicitly then.
    """
    package = osp.dirname(osp.dirname(osp.abspath(__file__)))
    checkout = osp.dirname(package)
    shipped = osp.join(package, '.mim')
    for root in (checkout, shipped):
        if osp.isdir(osp.join(root, 'configs')):
            return root
    raise FileNotFoundError(
        f'no configs/ folder next to the installed package ({checkout}) nor '
        f'in it ({shipped}); install the package with `pip install CHECKOUT` '
        'or `pip install -e CHECKOUT`, or pass config paths explicitly'
    )


def config_path(*parts: str) -> str:
    """``<checkout>/configs/<parts...>``."""
    return osp.join(project_root(), 'configs', *parts)


#: labelled paths: ``{label: path}`` or ``[(label, path), ...]`` (labels may
#: repeat); the label is how the user knows the path (``--out``, ``SRC``)
LabelledPaths = Union[
    Mapping[str, Optional[str]], Iterable[Tuple[str, Optional[str]]]
]


class DataFileError(OSError, ValueError):
    """A data sample that cannot be loaded, named by its files (raised where
    samples are prepared, also inside data-loader workers). A ``ValueError``
    too, as the label checks' errors it carries are."""


class UnsafeOutputError(ValueError):
    """An output path that would overwrite or write into one of the inputs
    (or onto another output); raised before anything is written."""


def _real(path: str) -> str:
    """The path with ``~``, symlinks, ``..`` and trailing slashes resolved,
    so that two spellings of one place compare equal."""
    return osp.realpath(osp.expanduser(path))


def _same(a: str, b: str) -> bool:
    """Whether two paths name one file: equal once resolved, or one file
    under two names (hard links, bind mounts) when both exist."""
    if _real(a) == _real(b):
        return True
    try:
        return osp.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` lies below the existing folder ``folder``."""
    if not osp.isdir(folder):
        return False
    path, folder = _real(path), _real(folder)
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def _labelled(paths: LabelledPaths) -> List[Tuple[str, str]]:
    items = paths.items() if isinstance(paths, Mapping) else paths
    return [(label, path) for label, path in items if path]


def check_outputs(
    outputs: LabelledPaths, inputs: LabelledPaths, distinct: bool = True
) -> None:
    """Refuse, before anything is written, outputs that would destroy input.

    Every tool that writes calls this with what it reads and what it
    writes, each labelled as the user knows it (an option such as
    ``--out``, or a config key such as
    ``test_dataloader.dataset.data_prefix.seg_map_path``); paths that are
    None are skipped. An output is refused when it is an input (file or
    folder), lies inside an input folder (``tools/test.py --out`` in the
    dataset's ``ann_dir`` would replace its labels), or is the same path as
    another output (unless ``distinct`` is False: output folders that may
    be shared, such as ``tools/test.py``'s ``--work-dir`` and ``--out``).
    Paths are compared resolved (relative, ``..``, symlinks, trailing
    ``/``), and as the same file for hard links.

    Raises:
        UnsafeOutputError: one line naming the output and the input.
    """
    ins, outs = _labelled(inputs), _labelled(outputs)
    for out_key, out in outs:
        for in_key, src in ins:
            if _same(out, src):
                raise UnsafeOutputError(
                    f'{out_key} {out} is {in_key} {src}: it would be '
                    'overwritten; write somewhere else'
                )
        # the innermost folder names the culprit best (ann_dir, not the root)
        around = sorted(
            (len(_real(src)), in_key, src)
            for in_key, src in ins
            if _inside(out, src)
        )
        if around:
            _, in_key, src = around[-1]
            raise UnsafeOutputError(
                f'{out_key} {out} lies inside {in_key} {src}: writing there '
                'would change the input; write outside it'
            )
    seen: List[Tuple[str, str]] = []
    for out_key, out in outs:
        for other_key, other in seen:
            if _same(out, other):
                raise UnsafeOutputError(
                    f'{out_key} {out} and {other_key} {other} are the same '
                    'path: one would overwrite the other'
                )
        if distinct:
            seen.append((out_key, out))


def check_output_kinds(
    folders: LabelledPaths = (), files: LabelledPaths = ()
) -> None:
    """Refuse, before anything is written, an output folder that is an
    existing file (or lies below one) and an output file that is an
    existing folder; paths that are None are skipped.

    Raises:
        NotADirectoryError: ``'--out x: is a file, not a folder'``.
        IsADirectoryError: ``'--out x: is a folder, not a file'``.
    """
    for kind, paths in (('folder', folders), ('file', files)):
        for label, path in _labelled(paths):
            if kind == 'file' and osp.isdir(path):
                raise IsADirectoryError(
                    f'{label} {path}: is a folder, not a '
                    'file; name the file to write'
                )
            if kind == 'folder' and osp.exists(path) and not osp.isdir(path):
                raise NotADirectoryError(
                    f'{label} {path}: is a file, not a folder'
                )
            above = osp.dirname(osp.abspath(path))
            while above and not osp.exists(above):
                above = osp.dirname(above)
            if above and not osp.isdir(above):
                raise NotADirectoryError(
                    f'{label} {path}: {above} is a file, not a folder'
                )
