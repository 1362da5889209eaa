"""Layers: DCNv2 (DeformConvV2), SoftPool, weight-standardised conv.

Importing a module registers its classes in the registries."""
from .dcn import DeformConvV2  # noqa: F401
from .soft_pool import SoftPool2d  # noqa: F401
from .std_conv import StdConv2d  # noqa: F401
