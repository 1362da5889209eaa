# Each module below registers itself on import; add one line per module.
from .sim import SpatialInteractionModule  # noqa: F401
from .fcm import FeatureCompressionModule  # noqa: F401
from .ram import RelationalAggregationModule  # noqa: F401
