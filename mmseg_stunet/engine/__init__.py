"""Training and testing parts: the checked runner, hooks, the CPU DDP
wrapper, the mixed-precision optimiser wrapper, checkpoint reading.

The names below load their module on first use (the tools need the light
:mod:`~mmseg_stunet.engine.errors` without torch); the registries import
the modules that register (see :mod:`mmseg_stunet.registration`). The tools
import the runner helpers of ``mmseg_stunet.engine.runner``."""

import importlib
from typing import Any

from .errors import CheckpointError, ConfigError, DivergenceError

#: public name -> module of this package that defines it
_LAZY = {
    'load_model_checkpoint': 'checkpoint',
    'read_checkpoint': 'checkpoint',
    'CPUDistributedDataParallel': 'cpu_distributed',
    'AtomicCheckpointHook': 'hooks',
    'CheckpointCheckHook': 'hooks',
    'ClassCountCheckHook': 'hooks',
    'DivergenceHook': 'hooks',
    'ResumeDataOrderHook': 'hooks',
    'MixedPrecisionOptimWrapper': 'optim_wrapper',
    'CheckedRunner': 'runner',
}

__all__ = [
    'AtomicCheckpointHook',
    'CheckpointCheckHook',
    'ClassCountCheckHook',
    'DivergenceHook',
    'ResumeDataOrderHook',
    'CPUDistributedDataParallel',
    'MixedPrecisionOptimWrapper',
    'CheckedRunner',
    'CheckpointError',
    'ConfigError',
    'DivergenceError',
    'load_model_checkpoint',
    'read_checkpoint',
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f'{__name__}.{_LAZY[name]}')
        return getattr(module, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
