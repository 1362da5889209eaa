"""Known third-party warnings that say nothing about the user's run, in one
place: the command-line tools silence them (:func:`silence_known_notices`,
and :class:`KnownNoticeFilter` on the runner's log) and the test suite
filters them (``tests/conftest.py``), each by its message, so every other
warning, the project's own included, stays visible.
"""

import logging
import re
import warnings
from typing import List, Tuple, Type

__all__ = [
    'KNOWN_NOTICES',
    'KNOWN_LOG_NOTICES',
    'silence_known_notices',
    'filterwarnings_lines',
    'KnownNoticeFilter',
]

#: (start of the message, category)
KNOWN_NOTICES: List[Tuple[str, Type[Warning]]] = [
    # setuptools, imported by mmcv / mim through pkg_resources (a
    # DeprecationWarning up to 80.8, a UserWarning from 80.9)
    ('pkg_resources is deprecated as an API', Warning),
    (
        'Deprecated call to `pkg_resources.declare_namespace',
        DeprecationWarning,
    ),
    # torch deprecations hit by mmcv / mmengine / mmseg imports and by the
    # TorchScript-based ONNX exporter this project uses on purpose
    ('`torch.jit.script` is deprecated', DeprecationWarning),
    ('`torch.jit.interface` is deprecated', DeprecationWarning),
    ('`torch.jit.trace` is deprecated', DeprecationWarning),
    ('`torch.jit.trace_method` is deprecated', DeprecationWarning),
    (
        'You are using the legacy TorchScript-based ONNX export',
        DeprecationWarning,
    ),
    (
        'The feature will be removed. Please remove usage of this function',
        DeprecationWarning,
    ),
    # rasterio's affine arithmetic
    ('Use `@` matmul instead of `*` mul operator', PendingDeprecationWarning),
    # mmseg internals
    ('``build_loss`` would be deprecated soon', UserWarning),
    # mmseg's visualisation hook in every training run (draw=False)
    (
        'The draw is False, it means that the hook for visualization will not '
        'take effect',
        UserWarning,
    ),
]

#: starts of messages mmengine logs as warnings about its own internals
KNOWN_LOG_NOTICES: List[str] = [
    '"FileClient" will be deprecated in future',
    '"HardDiskBackend" is the alias of "LocalBackend"',
]


def silence_known_notices() -> None:
    """Ignore :data:`KNOWN_NOTICES` in this process (the tools call it)."""
    for message, category in KNOWN_NOTICES:
        warnings.filterwarnings(
            'ignore', message=re.escape(message), category=category
        )


def filterwarnings_lines() -> List[str]:
    """:data:`KNOWN_NOTICES` as ``filterwarnings`` ini lines."""
    return [
        f'ignore:{re.escape(message)}:{category.__name__}'
        for message, category in KNOWN_NOTICES
    ]


class KnownNoticeFilter(logging.Filter):
    """Drops log records that start with one of :data:`KNOWN_LOG_NOTICES`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(message.startswith(n) for n in KNOWN_LOG_NOTICES)
