# deeplabv3plus_r50_vaihingen.py with automatic mixed precision (CUDA only): fp16 autocast and
# dynamic loss scaling.
_base_ = './deeplabv3plus_r50_vaihingen.py'
optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
