# Kept for paths users copied: the config now lives in st_unet/st-unet-tiny_1xb8-600iter_synthetic-vaihingen-128x128.py.
_base_ = './st_unet/st-unet-tiny_1xb8-600iter_synthetic-vaihingen-128x128.py'
