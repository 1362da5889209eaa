# Kept for paths users copied: the config now lives in st_unet/st-unet_1xb8-100e_potsdam-256x256.py.
_base_ = './st_unet/st-unet_1xb8-100e_potsdam-256x256.py'
