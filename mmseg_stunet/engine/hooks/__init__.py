"""Hooks: atomic checkpoints, checked checkpoint loading, resumed data
order, divergence stopped.

Importing a module registers its classes in the registries."""
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .checkpoint_check_hook import CheckpointCheckHook
from .divergence_hook import DivergenceHook
from .resume_data_order_hook import ResumeDataOrderHook

__all__ = [
    'AtomicCheckpointHook', 'CheckpointCheckHook', 'DivergenceHook',
    'ResumeDataOrderHook'
]
