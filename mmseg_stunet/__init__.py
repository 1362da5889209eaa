"""ST-UNet and DeepLabV3+ for remote-sensing segmentation in MMSegmentation 1.x.

Importing this package (directly or through a config's ``custom_imports``)
registers the models, datasets checks, engine parts and metric in
MMSegmentation's registries and makes mmengine checkpoints loadable under
torch's ``weights_only`` default. It imports nothing heavier: the scene
predictor and ONNX export (``mmseg_stunet.apis``, rasterio, the visualiser)
load only when imported themselves.
"""
from . import compat  # noqa: F401  (must run before any checkpoint is loaded)
from . import datasets, engine, evaluation, models  # noqa: F401
from .version import __version__  # noqa: F401
