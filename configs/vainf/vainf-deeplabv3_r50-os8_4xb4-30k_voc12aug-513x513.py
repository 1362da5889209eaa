# Output stride 8: layer3 and layer4 dilated (torchvision's
# replace_stride_with_dilation=[False, True, True]), ASPP rates 12/24/36.
_base_ = './vainf-deeplabv3_r50-os16_4xb4-30k_voc12aug-513x513.py'
model = dict(
    backbone=dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)),
    decode_head=dict(dilations=(12, 24, 36)),
)
