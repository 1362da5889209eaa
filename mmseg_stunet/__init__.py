"""ST-UNet and DeepLabV3+ for remote-sensing segmentation in MMSegmentation 1.x.

Importing this package (directly or through a config's ``custom_imports``)
registers every module in MMSegmentation's registries and makes mmengine
checkpoints loadable under torch's ``weights_only`` default.
"""
from . import compat  # noqa: F401  (must run before any checkpoint is loaded)
from . import apis, datasets, engine, evaluation, models  # noqa: F401

__version__ = '0.1.0'
