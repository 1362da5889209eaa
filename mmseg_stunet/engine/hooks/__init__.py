"""Hooks: atomic checkpoints, checked checkpoint loading, resumed data
order, class counts checked, divergence stopped.

Importing a module registers its classes in the registries."""

from .atomic_checkpoint_hook import AtomicCheckpointHook
from .checkpoint_check_hook import CheckpointCheckHook
from .class_count_check_hook import ClassCountCheckHook
from .divergence_hook import DivergenceHook
from .resume_data_order_hook import ResumeDataOrderHook

__all__ = [
    'AtomicCheckpointHook',
    'CheckpointCheckHook',
    'ClassCountCheckHook',
    'DivergenceHook',
    'ResumeDataOrderHook',
]
