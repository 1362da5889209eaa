"""Leaf helpers with no dependency on the rest of the package: atomic file
writes, the checkout's paths and window geometry."""

from .atomic import atomic_write, is_partial, partial_path
from .paths import UnsafeOutputError, check_outputs, config_path, project_root
from .tiling import window_starts

__all__ = [
    'atomic_write',
    'is_partial',
    'partial_path',
    'config_path',
    'project_root',
    'window_starts',
    'UnsafeOutputError',
    'check_outputs',
]
