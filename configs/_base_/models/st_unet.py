# ST-UNet (He et al., IEEE TGRS 2022) at the paper's setting: CNN width
# factor 0.5 (w = 32), Swin-T branch with window 8, UNet decoder, loss
# 0.5 * cross-entropy + 0.5 * the authors' class-wise soft Dice, six ISPRS
# classes, tested as 256x256 windows. Every backbone and head argument is
# spelled out so derived configs can shrink the model.
# The project's runtime base (../default_runtime.py) imports mmseg_stunet;
# a config that uses this file without it needs
#   custom_imports = dict(imports=['mmseg_stunet'], allow_failed_imports=False)

norm_cfg = dict(type='BN', requires_grad=True)  # SyncBN for multi-GPU runs
data_preprocessor = dict(
    type='SegDataPreProcessor',
    # ISPRS Vaihingen IRRG band statistics (0.4731, 0.3206, 0.3182) /
    # (0.1970, 0.1306, 0.1276) on the 0-255 scale, in file order
    mean=[120.64, 81.75, 81.14],
    std=[50.24, 33.30, 32.54],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    # test images with a side below 64 (twice the output stride; e.g. a
    # 0.5x TTA scale of a 64 tile) are padded to it and the prediction
    # cropped back: on a 1x1 deepest map the CNN's projection GroupNorm
    # stops ("Expected more than 1 value per channel")
    test_cfg=dict(size=(64, 64)),
)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='STUNetBackbone',
        in_channels=3,
        # CNN branch: ResNet-50 v2, GroupNorm + weight standardisation
        base_channels=32,
        stage_blocks=(3, 4, 6, 3),
        num_groups=32,
        # Swin branch (Swin-T) with SIM per block pair and FCM between stages
        embed_dims=96,
        depths=(2, 2, 6, 2),
        num_heads=(3, 6, 12, 24),
        window_size=8,
        mlp_ratio=4.0,
        drop_path_rate=0.1,
        # RAM deformable conv (mmseg_stunet's DCNv2; mmcv's 'DCNv2' works too)
        dcn_cfg=dict(type='DeformConvV2'),
        norm_cfg=norm_cfg,
        # eval-mode bound of SIM's standardised product: inactive on
        # in-distribution data, keeps blank / nodata input finite
        sim_clip_z=20.0,
        out_indices=(0, 1, 2, 3, 4),
        swin_pretrained=None,  # paper: no pretraining
        cnn_pretrained=None,
    ),
    decode_head=dict(
        type='STUNetHead',
        in_channels=(128, 256, 512, 1024),
        in_index=(1, 2, 3, 4),
        decoder_channels=(512, 256, 128, 64),
        channels=16,
        dropout_ratio=0.0,
        num_classes=6,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=[
            # = torch's cross_entropy (mean over labelled px)
            dict(
                type='CrossEntropyLoss',
                use_sigmoid=False,
                avg_non_ignore=True,
                loss_weight=0.5,
            ),
            dict(type='ClassWiseDiceLoss', loss_weight=0.5),
        ],
    ),
    train_cfg=dict(),
    # the paper evaluates 256x256 patches: larger tiles are cut into 256
    # windows without overlap (one window, i.e. whole, on 256 tiles)
    test_cfg=dict(mode='slide', crop_size=(256, 256), stride=(256, 256)),
)
