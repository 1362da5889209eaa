"""Errors of bad input that the tools report in one line."""
from ..utils.paths import UnsafeOutputError

__all__ = ['CheckpointError', 'ConfigError', 'DivergenceError',
           'UnsafeOutputError', 'USER_ERRORS']


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read, or does not fit its model."""


class ConfigError(ValueError):
    """A setting that cannot work here; the message says what to do."""


class DivergenceError(RuntimeError):
    """Training that reached a non-finite loss or non-finite weights: the
    run stops there, keeping the checkpoints saved before."""


#: what ``tools/train.py`` and ``tools/test.py`` print as one line and exit 1
USER_ERRORS = (CheckpointError, ConfigError, DivergenceError,
               FileNotFoundError, UnsafeOutputError)
