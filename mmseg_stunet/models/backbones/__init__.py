"""ST-UNet dual encoder.

Importing a module registers its classes in the registries."""
from .stunet import STUNetBackbone  # noqa: F401
