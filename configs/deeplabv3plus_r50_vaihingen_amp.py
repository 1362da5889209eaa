# Kept for paths users copied: the config now lives in deeplabv3plus/deeplabv3plus_r50-d8_1xb8-amp-100e_vaihingen-256x256.py.
_base_ = './deeplabv3plus/deeplabv3plus_r50-d8_1xb8-amp-100e_vaihingen-256x256.py'
