"""Make mmengine 0.10 checkpoints load under torch >= 2.6.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True`` and refuses
any pickled global that is not allow-listed. mmengine 0.10.7 calls
``torch.load`` without ``weights_only`` (resume, ``load_checkpoint``,
``init_model``, ``tools/test.py``, ``mim test``), and its checkpoints hold a
few non-tensor objects besides tensors and builtins:

* ``message_hub.log_scalars``: :class:`mmengine.logging.HistoryBuffer`
  objects whose state is two numpy arrays and a dict of its statistics
  methods, pickled as ``getattr(HistoryBuffer, 'mean')`` etc.; ``getattr``
  itself is NOT allow-listed: the pickled name ``builtins.getattr`` resolves
  to :func:`history_buffer_getattr`, which only returns public methods of
  ``HistoryBuffer``;
* numpy scalars and arrays (metric values, ``HistoryBuffer`` state), which
  pickle through ``numpy.core.multiarray._reconstruct`` / ``scalar`` and the
  dtype classes (``numpy._core`` on numpy 2; both spellings are listed so
  checkpoints move between numpy 1 and 2);
* an empty array (e.g. the state of an empty ``HistoryBuffer``) pickles its
  data as ``bytes()``, i.e. the global ``builtins.bytes`` called with no
  argument: that name resolves to :func:`empty_bytes`, which returns
  ``b''`` and refuses any argument (``bytes(n)`` would allocate n bytes).

Importing this module allow-lists exactly those globals with
:func:`torch.serialization.add_safe_globals`: ``HistoryBuffer``,
``numpy.ndarray``, ``numpy.dtype``, the ``numpy.dtypes.*DType`` classes,
``_reconstruct`` and ``scalar`` under both numpy spellings, and the two
stand-ins above under the names ``builtins.getattr`` and
``builtins.bytes``. ``weights_only`` stays on: a checkpoint holding any
other object is still refused by torch. ``import mmseg_stunet`` imports
this module as soon as torch and mmengine's checkpoint code are loaded
(:mod:`mmseg_stunet.registration`).
"""

import pickle

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

__all__ = [
    'MMENGINE_SAFE_GLOBALS',
    'allow_mmengine_checkpoints',
    'history_buffer_getattr',
    'empty_bytes',
]


def history_buffer_getattr(obj: object, name: str) -> object:
    """``getattr`` restricted to the public methods of ``HistoryBuffer``."""
    if (
        (obj is HistoryBuffer or isinstance(obj, HistoryBuffer))
        and not name.startswith('_')
        and callable(getattr(HistoryBuffer, name, None))
    ):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({type(obj).__name__}, {name!r}); only '
        'public HistoryBuffer methods are allowed'
    )


def empty_bytes(*args: object) -> bytes:
    """``bytes()`` as protocol-2 pickles of empty arrays call it; any
    argument is refused."""
    if args:
        raise pickle.UnpicklingError(
            f'checkpoint asks for bytes{args!r}; only bytes() (the data of '
            'an empty numpy array) is allowed'
        )
    return b''


def _numpy_multiarray():
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    return multiarray


def _safe_globals() -> list:
    multiarray = _numpy_multiarray()
    # numpy 1 pickles name ``numpy.core.multiarray.*``, numpy 2 pickles
    # ``numpy._core.multiarray.*``; accept both for the same callables.
    entries = []
    for name in ('_reconstruct', 'scalar'):
        fn = getattr(multiarray, name)
        entries += [
            (fn, f'numpy.core.multiarray.{name}'),
            (fn, f'numpy._core.multiarray.{name}'),
        ]
    entries += [
        np.ndarray,
        np.dtype,
        HistoryBuffer,
        (history_buffer_getattr, 'builtins.getattr'),
        (empty_bytes, 'builtins.bytes'),
    ]
    # numpy >= 1.25 pickles a dtype through its class, e.g. Float64DType.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        entries += [
            getattr(dtypes, name)
            for name in dir(dtypes)
            if name.endswith('DType')
            and isinstance(getattr(dtypes, name), type)
        ]
    return entries


MMENGINE_SAFE_GLOBALS = _safe_globals()


def allow_mmengine_checkpoints() -> None:
    """Allow-list the globals mmengine writes into its checkpoints."""
    torch.serialization.add_safe_globals(MMENGINE_SAFE_GLOBALS)


allow_mmengine_checkpoints()
