# Each module below registers itself on import; add one line per module.
from .dcn import DeformConvV2  # noqa: F401
