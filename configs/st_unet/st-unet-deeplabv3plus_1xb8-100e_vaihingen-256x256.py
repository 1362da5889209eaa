# ST-UNet's dual encoder with MMSegmentation's DeepLabV3+ head
# (DepthwiseSeparableASPPHead) on the paper's Vaihingen protocol. The head
# takes fused stage 4 (1024 channels, output stride 32) for ASPP and fused
# stage 1 (128 channels, stride 4) as its low-level input; the ASPP
# dilations are DeepLab's (6, 12, 18) at stride 16, halved for stride 32.
_base_ = './st-unet_1xb8-100e_vaihingen-256x256.py'
norm_cfg = dict(type='BN', requires_grad=True)  # SyncBN for multi-GPU runs
model = dict(
    backbone=dict(out_indices=(1, 2, 3, 4)),
    decode_head=dict(
        _delete_=True,
        type='DepthwiseSeparableASPPHead',
        in_channels=1024,
        in_index=3,
        channels=256,
        dilations=(1, 3, 6, 9),
        c1_in_channels=128,
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=6,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode={{_base_.model.decode_head.loss_decode}}))
