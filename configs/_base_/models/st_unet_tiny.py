# The project's one reduced-width ST-UNet: the architecture and loss of
# ./st_unet.py at about 1/8 of its widths (CNN w = 8, one unit per stage;
# Swin embed 16, two blocks and 1-8 heads per stage), for CPU runs. Used by
# the demo (configs/st_unet/st-unet-tiny_1xb8-600iter_synthetic-vaihingen-
# 128x128.py, tools/demo.py) and by the tests (mmseg_stunet.testing's
# SMALL_STUNET_BACKBONE / SMALL_STUNET_HEAD read this file).
# Backbone outputs: 8, 32, 64, 128, 256 channels at strides 1, 4, 8, 16, 32.
_base_ = './st_unet.py'
model = dict(
    backbone=dict(
        base_channels=8,
        stage_blocks=(1, 1, 1, 1),
        num_groups=4,
        embed_dims=16,
        depths=(2, 2, 2, 2),
        num_heads=(1, 2, 4, 8),
        window_size=8,
        drop_path_rate=0.0,
    ),
    decode_head=dict(
        in_channels=(32, 64, 128, 256),
        decoder_channels=(128, 64, 32, 16),
        channels=8,
    ),
)
