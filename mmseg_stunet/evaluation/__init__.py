# Each module below registers itself on import; add one line per module.
from .isprs_metric import ISPRSMetric  # noqa: F401
