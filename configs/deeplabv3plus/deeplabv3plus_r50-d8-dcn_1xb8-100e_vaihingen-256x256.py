# DeepLabV3+ R-50-D8 with modulated deformable convolutions (DCNv2) on the 3x3
# conv of every bottleneck in ResNet stages 2-4 (the usual "R-50-DCN"
# placement), otherwise identical to
# deeplabv3plus_r50-d8_1xb8-100e_vaihingen-256x256.py.
# DeformConvV2 is this package's layer (mmseg_stunet/models/layers/dcn.py);
# backend 'auto' uses mmcv's compiled op on CUDA and the pure-PyTorch kernel
# on CPU. Its offset branch starts at zero, so training starts from a plain
# R-50 whose stage 2-4 3x3 convs see a 0.5 modulation mask.
_base_ = './deeplabv3plus_r50-d8_1xb8-100e_vaihingen-256x256.py'
model = dict(
    backbone=dict(
        dcn=dict(
            type='DeformConvV2', deform_groups=1, fallback_on_stride=False
        ),
        stage_with_dcn=(False, True, True, True),
    )
)
