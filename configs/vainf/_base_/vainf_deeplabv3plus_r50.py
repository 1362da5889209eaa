# VainF's DeepLabV3+ with a torchvision-style ResNet-50 (7x7 stem, stride on
# the 3x3 conv) at output stride 16: layer4 dilated (first block 1, then 2),
# ASPP rates 6/12/18. VainF's ImageNet normalisation on [0, 1] RGB equals
# mean/std below on [0, 255].
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(513, 513),
)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained='torchvision://resnet50',
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        contract_dilation=True,
        style='pytorch',
        deep_stem=False,
        norm_cfg=norm_cfg,
        norm_eval=False,
    ),
    decode_head=dict(
        type='VainFDeepLabV3PlusHead',
        in_channels=2048,
        in_index=3,
        channels=256,
        c1_in_channels=256,
        c1_channels=48,
        dilations=(6, 12, 18),
        separable=False,
        aspp_dropout_ratio=0.1,
        dropout_ratio=0.0,
        num_classes=21,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            avg_non_ignore=True,
        ),
    ),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'),
)
