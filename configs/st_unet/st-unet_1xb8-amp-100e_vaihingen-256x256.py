# st-unet_1xb8-100e_vaihingen-256x256.py with automatic mixed precision: fp16
# autocast and dynamic loss scaling on CUDA, bf16 autocast on CPU
# (mmseg_stunet's MixedPrecisionOptimWrapper, see docs/model.md).
_base_ = './st-unet_1xb8-100e_vaihingen-256x256.py'
optim_wrapper = dict(type='MixedPrecisionOptimWrapper')
