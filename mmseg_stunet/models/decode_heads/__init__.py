"""ST-UNet's UNet decoder and VainF's DeepLabV3/V3+ heads.

Importing a module registers its classes in the registries."""

from .stunet_head import STUNetHead
from .vainf_aspp_head import VainFDeepLabV3Head, VainFDeepLabV3PlusHead

__all__ = ['STUNetHead', 'VainFDeepLabV3Head', 'VainFDeepLabV3PlusHead']
