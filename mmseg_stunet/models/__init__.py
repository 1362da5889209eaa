from . import backbones, decode_heads, layers, modules  # noqa: F401
