"""Reading checkpoints with errors that name the file, and refusing a
checkpoint that does not fit the model it is meant for.

Used by :class:`~mmseg_stunet.engine.hooks.CheckpointCheckHook` (resuming,
``tools/test.py``, ``mim test``), the scene predictor and the ONNX export.
"""

import os.path as osp
import pickle
import re
import zipfile
from collections import OrderedDict
from contextlib import contextmanager
from typing import (
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import torch
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner import find_latest_checkpoint
from mmengine.runner.checkpoint import (
    CheckpointLoader,
    _load_checkpoint_to_model,
)
from torch import nn

from .errors import CheckpointError

__all__ = [
    'CheckpointError',
    'read_checkpoint',
    'read_error_reason',
    'check_readable',
    'checkpoint_fit',
    'fit_report',
    'check_checkpoint_fits',
    'non_finite_weight',
    'check_finite_weights',
    'load_model_checkpoint',
    'unwrap_model',
    'in_work_dir',
    'latest_checkpoint',
]

RevisedKeys = Sequence[Tuple[str, str]]
DEFAULT_REVISE_KEYS: RevisedKeys = ((r'^module\.', ''),)
_READ_ERRORS = (
    pickle.UnpicklingError,
    RuntimeError,
    EOFError,
    zipfile.BadZipFile,
    ValueError,
    AttributeError,
    ImportError,
)


def in_work_dir(path: str, work_dir: str) -> Optional[str]:
    """``path`` if it lies in ``work_dir``, else the file of its name in
    ``work_dir`` if there is one, else None.

    mmengine stores checkpoint paths absolute (``last_checkpoint``, the
    ``best_ckpt`` and ``last_ckpt`` entries of a checkpoint's message hub);
    in a copied or moved work dir they still name the original one.
    """
    work = osp.realpath(work_dir)
    if osp.realpath(path).startswith(work.rstrip(osp.sep) + osp.sep):
        return path
    local = osp.join(work_dir, osp.basename(path))
    return local if osp.isfile(local) else None


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``work_dir/last_checkpoint`` names (None without that
    file), taken from ``work_dir`` when a file of its name is there: a
    copied or moved work dir resumes from its own checkpoint, not from the
    work dir it was copied from, nor fails naming the old path. Otherwise
    the stored path (checkpoints kept elsewhere with ``CheckpointHook``'s
    ``out_dir``)."""
    stored = find_latest_checkpoint(work_dir)
    if not stored or '://' in stored:
        return stored
    return in_work_dir(stored, work_dir) or stored


def read_checkpoint(
    filename: str, map_location: Union[str, Callable] = 'cpu'
) -> dict:
    """``mmengine``'s ``CheckpointLoader.load_checkpoint`` (files, URLs,
    ``torchvision://`` ...) with one-line errors that name ``filename``.

    A checkpoint holding a Python object outside the ``weights_only``
    allow-list (:mod:`mmseg_stunet.compat`) is refused naming that object;
    the error does not suggest ``weights_only=False``, which would run
    whatever code the file carries.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: truncated, corrupted or unsafe file, or one that
            holds no dict (a checkpoint is a dict of weights, or a dict
            with a ``state_dict``).
    """
    with _named_errors(filename):
        checkpoint = CheckpointLoader.load_checkpoint(filename, map_location)
    _check_dict(checkpoint, filename)
    return checkpoint


def _check_dict(checkpoint: object, filename: str) -> None:
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(
            f'{filename}: is not a checkpoint: it holds a '
            f'{type(checkpoint).__name__}, not a dict of weights (or a dict '
            'with a state_dict)'
        )


def check_readable(filename: str, label: str = 'checkpoint') -> None:
    """Raise as :func:`read_checkpoint` would for a local ``filename``,
    without reading its tensors (the file is memory-mapped: the zip
    directory and the pickled structure are checked, the allow-list
    included). ``label`` names the file in the error of a missing file
    (``--resume``, ``CHECKPOINT``)."""
    if '://' in filename:
        return  # URLs and torchvision:// are read where they are used
    if osp.isdir(filename):
        raise IsADirectoryError(
            f'{label} {filename}: is a folder, not a checkpoint file'
        )
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{label} {filename}: no such file')
    with _named_errors(filename):
        # the legacy (pre-zip) format cannot be memory-mapped: read it
        checkpoint = torch.load(
            filename,
            map_location='cpu',
            weights_only=True,
            mmap=zipfile.is_zipfile(filename),
        )
    _check_dict(checkpoint, filename)


def read_error_reason(err: BaseException) -> str:
    """Why ``torch.load`` failed, in one line: the refused Python object
    of a ``weights_only`` refusal (never torch's advice to load with
    ``weights_only=False``, which would run the code the file carries), a
    truncated or foreign file, or the error's first line."""
    text = str(err)
    unsafe = re.search(r'Unsupported global: GLOBAL (\S+)', text) or re.search(
        r'(?:unsupported|not an allowed) global:? `?([\w.]+)',
        text,
        re.IGNORECASE,
    )
    if unsafe:
        return (
            f'it holds the Python object {unsafe.group(1)}, which is '
            'not among the types a checkpoint may carry (tensors, '
            'numbers, strings, numpy arrays, mmengine log buffers); it '
            'is refused rather than executed'
        )
    if 'weights_only' in text or 'Weights only load failed' in text:
        return (
            'it holds Python objects that are not among the types a '
            'checkpoint may carry; it is refused rather than executed'
        )
    first = text.splitlines()[0] if text else type(err).__name__
    if 'central directory' in text or isinstance(
        err, (EOFError, zipfile.BadZipFile)
    ):
        return f'it is truncated or not a PyTorch checkpoint ({first})'
    if isinstance(err, pickle.UnpicklingError):
        return f'it is not a PyTorch checkpoint ({first})'
    return first


@contextmanager
def _named_errors(filename: str) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError:
        raise
    except _READ_ERRORS as err:
        raise CheckpointError(
            f'{filename}: cannot be read: {read_error_reason(err)}'
        ) from None


def _state_dict(
    checkpoint: dict, revise_keys: RevisedKeys
) -> Dict[str, torch.Tensor]:
    """The weights of ``checkpoint`` with ``revise_keys`` applied, as
    mmengine's ``_load_checkpoint_to_model`` sees them."""
    state = checkpoint.get('state_dict', checkpoint)
    for pattern, repl in revise_keys:
        state = OrderedDict(
            (re.sub(pattern, repl, k), v) for k, v in state.items()
        )
    return state


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside DDP wrappers and inside a test-time-augmentation
    model (``tools/test.py --tta``): what checkpoints load into and what
    the config's ``model`` describes."""
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def non_finite_weight(state: Mapping[str, object]) -> Optional[str]:
    """``'name (k of n values NaN or inf)'`` for the first floating-point
    tensor of ``state`` (a state dict) that is not finite, else None."""
    for name, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            bad = int((~torch.isfinite(value)).sum())
            if bad:
                return f'{name} ({bad} of {value.numel()} values NaN or inf)'
    return None


def check_finite_weights(checkpoint: dict, filename: str) -> None:
    """Raise :class:`CheckpointError` naming the first weight (or buffer)
    of ``checkpoint`` that holds NaN or inf.

    Such a checkpoint (saved by a run that diverged) predicts NaN scores,
    which argmax turns into class 0 everywhere: scored, it gives numbers
    that look like a (bad) model. One check for every reader: the scene
    predictor and ONNX export (:func:`load_model_checkpoint`),
    ``tools/test.py``, ``mim test`` and ``--resume``
    (:class:`~mmseg_stunet.engine.hooks.CheckpointCheckHook`).
    """
    bad = non_finite_weight(_state_dict(checkpoint, ()))
    if bad:
        raise CheckpointError(
            f'{filename}: weight {bad}: the checkpoint comes from a run that '
            'diverged; use a checkpoint saved before the divergence'
        )


def checkpoint_fit(
    model: nn.Module,
    checkpoint: dict,
    revise_keys: RevisedKeys = DEFAULT_REVISE_KEYS,
) -> Tuple[List[str], List[str], List[str]]:
    """``(missing, mismatched, unexpected)`` keys of ``checkpoint`` for
    ``model``: weights the model has and the checkpoint lacks, weights of
    another shape (``'key: checkpoint (a, b) vs model (c, d)'``), and keys
    the model does not have.

    mmengine's ``load_state_dict`` reports the same as log text only; a
    decision needs the lists.
    """
    model = unwrap_model(model)  # what mmengine's load_state_dict fills
    state = _state_dict(checkpoint, revise_keys)
    own = model.state_dict()
    missing = [
        k
        for k in own
        if k not in state and not k.endswith('num_batches_tracked')
    ]
    mismatched = [
        f'{k}: checkpoint {tuple(state[k].shape)} vs model '
        f'{tuple(own[k].shape)}'
        for k in own
        if k in state
        and hasattr(state[k], 'shape')
        and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    unexpected = [k for k in state if k not in own]
    return missing, mismatched, unexpected


def fit_report(
    model: nn.Module,
    missing: List[str],
    mismatched: List[str],
    unexpected: List[str],
) -> str:
    """One line: counts and a few keys of each kind of misfit."""
    total = sum(
        1 for k in model.state_dict() if not k.endswith('num_batches_tracked')
    )
    parts = []
    if missing:
        parts.append(
            f"{len(missing)} of the model's {total} weights "
            f'missing (e.g. {", ".join(missing[:3])})'
        )
    if mismatched:
        parts.append(
            f'{len(mismatched)} of another shape (e.g. '
            f'{"; ".join(mismatched[:2])})'
        )
    if unexpected:
        parts.append(
            f'{len(unexpected)} not in the model (e.g. '
            f'{", ".join(unexpected[:3])})'
        )
    return '; '.join(parts)


def check_checkpoint_fits(
    model: nn.Module,
    checkpoint: dict,
    filename: str,
    revise_keys: RevisedKeys = DEFAULT_REVISE_KEYS,
    hint: Optional[str] = None,
) -> List[str]:
    """Raise :class:`CheckpointError` (one line: counts and a few keys) if
    weights of ``model`` are missing from ``checkpoint`` or have another
    shape. Returns the unexpected keys (extra weights are not an error).

    ``hint`` ends the message (default: check the config, or
    ``--allow-partial``, which the tools that evaluate and predict have;
    ``tools/train.py --resume`` passes its own)."""
    missing, mismatched, unexpected = checkpoint_fit(
        model, checkpoint, revise_keys
    )
    if missing or mismatched:
        if hint is None:
            hint = (
                'Check the config, or load what fits with '
                '--allow-partial (config: allow_partial_checkpoint=True)'
            )
        raise CheckpointError(
            f'{filename} does not fit the model: '
            + fit_report(model, missing, mismatched, unexpected)
            + '. '
            + hint
        )
    return unexpected


def load_model_checkpoint(
    model: nn.Module,
    filename: str,
    allow_partial: bool = False,
    map_location: Union[str, Callable] = 'cpu',
) -> dict:
    """Read ``filename`` (:func:`read_checkpoint`), refuse it if it holds
    NaN or inf (:func:`check_finite_weights`) or does not fit ``model``
    (:func:`check_checkpoint_fits`, skipped with ``allow_partial``) and load
    it with mmengine. Returns the checkpoint."""
    checkpoint = read_checkpoint(filename, map_location)
    check_finite_weights(checkpoint, filename)
    if not allow_partial:
        check_checkpoint_fits(model, checkpoint, filename)
    return _load_checkpoint_to_model(model, checkpoint)
