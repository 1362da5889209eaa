# Each module below registers itself on import; add one line per module.
from .stunet import STUNetBackbone  # noqa: F401
