"""ST-UNet's SIM, FCM and RAM.

Importing a module registers its classes in the registries."""
from .sim import SpatialInteractionModule  # noqa: F401
from .fcm import FeatureCompressionModule  # noqa: F401
from .ram import RelationalAggregationModule  # noqa: F401
