# deeplabv3plus_r50-d8_1xb8-100e_vaihingen-256x256.py with mixed precision (what tools/train.py --amp does):
# float16 autocast and dynamic loss scaling on CUDA, bfloat16 autocast on a
# CPU with bfloat16 instructions (mmseg_stunet's MixedPrecisionOptimWrapper),
# autocast in validation and testing, channels-last weights.
_base_ = './deeplabv3plus_r50-d8_1xb8-100e_vaihingen-256x256.py'
optim_wrapper = dict(type='MixedPrecisionOptimWrapper')
val_cfg = dict(fp16=True)
test_cfg = dict(fp16=True)
channels_last = True
