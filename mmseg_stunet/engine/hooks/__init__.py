"""Hooks: atomic checkpoints, checked checkpoint loading, resumed data
order.

Importing a module registers its classes in the registries."""
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .checkpoint_check_hook import CheckpointCheckHook
from .resume_data_order_hook import ResumeDataOrderHook

__all__ = [
    'AtomicCheckpointHook', 'CheckpointCheckHook', 'ResumeDataOrderHook'
]
