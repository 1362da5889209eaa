"""Whole-scene prediction (GeoTIFF/PNG) and ONNX export.

Not imported by ``import mmseg_stunet``. ``ScenePredictor`` loads rasterio
and the visualiser, so it is imported on first use: ``apis.inference`` and
``apis.onnx_export`` stay free of both."""

from typing import Any

from .inference import init_segmentor, model_in_channels

__all__ = ['ScenePredictor', 'init_segmentor', 'model_in_channels']


def __getattr__(name: str) -> Any:
    if name == 'ScenePredictor':
        from .scene_predictor import ScenePredictor

        return ScenePredictor
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
