"""Hooks and runner pieces: atomic checkpoints, resume data order, CPU DDP.

Importing a module registers its classes in the registries."""
from . import cpu_distributed  # noqa: F401
from .atomic_checkpoint_hook import AtomicCheckpointHook  # noqa: F401
from .resume_data_order_hook import ResumeDataOrderHook  # noqa: F401
