from .stunet_ckpt import (convert_resnetv2_checkpoint, convert_swin_checkpoint,
                          load_converted)

__all__ = [
    'convert_swin_checkpoint', 'convert_resnetv2_checkpoint', 'load_converted'
]
