"""Training and testing parts: the checked runner, hooks, the CPU DDP
wrapper, the mixed-precision optimiser wrapper, checkpoint reading.

Importing this package registers them; the tools import the runner helpers
of ``mmseg_stunet.engine.runner``."""
from .checkpoint import load_model_checkpoint, read_checkpoint
from .cpu_distributed import CPUDistributedDataParallel
from .errors import CheckpointError, ConfigError
from .hooks import (AtomicCheckpointHook, CheckpointCheckHook,
                    ResumeDataOrderHook)
from .optim_wrapper import MixedPrecisionOptimWrapper
from .runner import CheckedRunner

__all__ = [
    'AtomicCheckpointHook', 'CheckpointCheckHook', 'ResumeDataOrderHook',
    'CPUDistributedDataParallel', 'MixedPrecisionOptimWrapper',
    'CheckedRunner', 'CheckpointError', 'ConfigError',
    'load_model_checkpoint', 'read_checkpoint'
]
