"""ST-UNet and DeepLabV3+ for remote-sensing segmentation in MMSegmentation 1.x.

Importing this package (directly or through a config's ``custom_imports``)
registers the models, datasets checks, engine parts and metric in
MMSegmentation's registries and makes mmengine checkpoints loadable under
torch's ``weights_only`` default. It imports nothing heavier: the scene
predictor and ONNX export (``mmseg_stunet.apis``, rasterio, the visualiser)
load only when imported themselves. It also reports the project's own
errors (a checkpoint that does not fit, ...) in one line where they end a
program uncaught (:func:`~mmseg_stunet.engine.errors.install_excepthook`).
"""
from . import compat  # noqa: F401  (must run before any checkpoint is loaded)
from . import datasets, engine, evaluation, models  # noqa: F401
from .engine.errors import install_excepthook
from .version import __version__  # noqa: F401

# the project's own errors in one line, also under mim / MMSegmentation's
# tools (see install_excepthook)
install_excepthook()
