"""Whole-scene prediction (GeoTIFF/PNG) and ONNX export.

Not imported by ``import mmseg_stunet`` (it loads rasterio and the
visualiser): import ``mmseg_stunet.apis`` where it is used."""
from .inference import init_segmentor, model_in_channels
from .scene_predictor import ScenePredictor

__all__ = ['ScenePredictor', 'init_segmentor', 'model_in_channels']
