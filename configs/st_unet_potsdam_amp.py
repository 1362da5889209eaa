# st_unet_potsdam.py with automatic mixed precision (CUDA only): fp16 autocast and
# dynamic loss scaling.
_base_ = './st_unet_potsdam.py'
optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
