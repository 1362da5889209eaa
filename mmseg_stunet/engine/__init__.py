"""Training and testing parts: hooks, the CPU DDP wrapper, runner helpers.

Importing this package registers the hooks and the wrapper; the runner
helpers (``mmseg_stunet.engine.runner``) are imported by the tools."""
from .cpu_distributed import CPUDistributedDataParallel
from .hooks import AtomicCheckpointHook, ResumeDataOrderHook

__all__ = [
    'AtomicCheckpointHook', 'ResumeDataOrderHook',
    'CPUDistributedDataParallel'
]
