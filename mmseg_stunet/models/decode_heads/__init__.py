# Each module below registers itself on import; add one line per module.
from .stunet_head import STUNetHead  # noqa: F401
from .vainf_deeplab_head import VainFDeepLabV3Head, VainFDeepLabV3PlusHead  # noqa: F401
