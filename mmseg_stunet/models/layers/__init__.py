"""Layers: DCNv2 (DeformConvV2), SoftPool, weight-standardised conv.

Importing a module registers its classes in the registries."""

from .dcn import DeformConvV2
from .soft_pool import SoftPool2d
from .std_conv import StdConv2d

__all__ = ['DeformConvV2', 'SoftPool2d', 'StdConv2d']
