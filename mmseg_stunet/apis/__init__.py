"""Whole-scene prediction (GeoTIFF/PNG) and ONNX export.

Importing a module registers its classes in the registries."""
from .scene_predictor import ScenePredictor  # noqa: F401
