"""Hooks: atomic checkpoints, resumed data order.

Importing a module registers its classes in the registries."""
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .resume_data_order_hook import ResumeDataOrderHook

__all__ = ['AtomicCheckpointHook', 'ResumeDataOrderHook']
