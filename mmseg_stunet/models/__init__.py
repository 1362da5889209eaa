"""ST-UNet's backbone, decoder, building blocks and loss; DCNv2; VainF's
DeepLabV3/V3+ heads. Importing registers them in MMSegmentation's MODELS."""

from . import backbones, decode_heads, layers, losses, utils  # noqa: F401
