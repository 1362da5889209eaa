"""ST-UNet and DeepLabV3+ for remote-sensing segmentation in MMSegmentation 1.x.

Importing this package (directly or through a config's ``custom_imports``)
registers the models, datasets checks, engine parts and metric in
MMSegmentation's registries and makes mmengine checkpoints loadable under
torch's ``weights_only`` default. It imports nothing heavier, not even
torch: the registries import the package's modules the first time they
are searched, and the allow-list is applied once mmengine's checkpoint
code is loaded (:mod:`mmseg_stunet.registration`). The sub-packages
(``models``, ``datasets``, ``engine``, ``apis``, ...) load on first use,
e.g. ``from mmseg_stunet.models import STUNet`` or ``mmseg_stunet.models``.
It also reports the project's own errors (a checkpoint that does not fit,
...) in one line where they end a program uncaught
(:func:`~mmseg_stunet.engine.errors.install_excepthook`).
"""

import importlib
from typing import Any

from .engine.errors import install_excepthook
from .registration import register
from .version import __version__  # noqa: F401

_SUBMODULES = (
    'apis',
    'compat',
    'converters',
    'datasets',
    'engine',
    'evaluation',
    'models',
    'registration',
    'testing',
    'utils',
)

# registration with MMSegmentation's registries (lazy) and the checkpoint
# allow-list (as soon as mmengine's checkpoint code is loaded)
register()
# the project's own errors in one line, also under mim / MMSegmentation's
# tools (see install_excepthook)
install_excepthook()


def __getattr__(name: str) -> Any:
    """``mmseg_stunet.models`` etc. without importing them beforehand."""
    if name in _SUBMODULES:
        return importlib.import_module(f'{__name__}.{name}')
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
