# deeplabv3plus_r50-d8_1xb8-100e_vaihingen-256x256.py with automatic mixed
# precision (fp16 + loss scaling on CUDA, bf16 on CPU).
_base_ = './deeplabv3plus_r50-d8_1xb8-100e_vaihingen-256x256.py'
optim_wrapper = dict(type='MixedPrecisionOptimWrapper')
