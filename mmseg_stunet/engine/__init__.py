"""Training and testing parts: the checked runner, hooks, the CPU DDP
wrapper, the mixed-precision optimiser wrapper, checkpoint reading.

Importing this package registers them; the tools import the runner helpers
of ``mmseg_stunet.engine.runner``."""
from .checkpoint import load_model_checkpoint, read_checkpoint
from .cpu_distributed import CPUDistributedDataParallel
from .errors import CheckpointError, ConfigError, DivergenceError
from .hooks import (AtomicCheckpointHook, CheckpointCheckHook,
                    ClassCountCheckHook, DivergenceHook, ResumeDataOrderHook)
from .optim_wrapper import MixedPrecisionOptimWrapper
from .runner import CheckedRunner

__all__ = [
    'AtomicCheckpointHook', 'CheckpointCheckHook', 'ClassCountCheckHook',
    'DivergenceHook', 'ResumeDataOrderHook', 'CPUDistributedDataParallel',
    'MixedPrecisionOptimWrapper', 'CheckedRunner', 'CheckpointError',
    'ConfigError', 'DivergenceError',
    'load_model_checkpoint', 'read_checkpoint'
]
