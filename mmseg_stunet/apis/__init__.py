# Each module below registers itself on import; add one line per module.
from .scene_predictor import ScenePredictor  # noqa: F401
