# st_unet_vaihingen.py with automatic mixed precision (CUDA only): fp16 autocast and
# dynamic loss scaling.
_base_ = './st_unet_vaihingen.py'
optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
