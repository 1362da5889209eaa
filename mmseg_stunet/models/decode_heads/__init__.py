# Each module below registers itself on import; add one line per module.
from .stunet_head import STUNetHead  # noqa: F401
