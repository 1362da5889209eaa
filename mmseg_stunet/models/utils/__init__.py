"""ST-UNet's building blocks (SIM, FCM, RAM), its initialisation helper and
the key mapping of public checkpoints onto its encoder branches.

Importing a module registers its classes in the registries."""

from .ckpt_convert import (
    convert_resnetv2_checkpoint,
    convert_swin_checkpoint,
    load_converted,
    resize_rel_pos_table,
)
from .fcm import FeatureCompressionModule
from .ram import RelationalAggregationModule
from .sim import SpatialInteractionModule
from .weight_init import TorchDefaultInitMixin, reset_to_torch_default

__all__ = [
    'SpatialInteractionModule',
    'FeatureCompressionModule',
    'RelationalAggregationModule',
    'TorchDefaultInitMixin',
    'reset_to_torch_default',
    'convert_swin_checkpoint',
    'convert_resnetv2_checkpoint',
    'load_converted',
    'resize_rel_pos_table',
]
