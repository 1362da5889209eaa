# Each module below registers itself on import; add one line per module.
from .dcn import DeformConvV2  # noqa: F401
from .soft_pool import SoftPool2d  # noqa: F401
from .std_conv import StdConv2d  # noqa: F401
