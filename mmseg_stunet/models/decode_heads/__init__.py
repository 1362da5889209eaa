"""ST-UNet's UNet decoder and VainF's DeepLabV3/V3+ heads.

Importing a module registers its classes in the registries."""
from .stunet_head import STUNetHead  # noqa: F401
from .vainf_deeplab_head import VainFDeepLabV3Head, VainFDeepLabV3PlusHead  # noqa: F401
