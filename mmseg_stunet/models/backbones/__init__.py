"""ST-UNet dual encoder (CNN branch ``stunet_cnn``, Swin branch
``stunet_swin``, fused by RAMs in ``stunet``).

Importing a module registers its classes in the registries."""

from .stunet import STUNetBackbone

__all__ = ['STUNetBackbone']
