# MMSegmentation's DeepLabV3+ R-50-D8 at the ST-UNet protocol: no
# pretraining (MMSegmentation's own configs start from ImageNet weights),
# 0.5 CE + 0.5 class-wise Dice on the decode head, as ST-UNet, tested as
# 256x256 windows; MMSegmentation's ImageNet normalisation with bgr_to_rgb.
# The FCN auxiliary head (CE, weight 0.4) is MMSegmentation's standard part
# of this model; its CE is averaged over labelled pixels like the decode
# head's (mmseg's default averages over all pixels and warns in every run).
# Six (ISPRS) classes; derived configs set num_classes.
_base_ = 'mmseg::_base_/models/deeplabv3plus_r50-d8.py'
data_preprocessor = dict(size=(256, 256))  # crop_size: the data set's
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    decode_head=dict(
        num_classes=6,
        loss_decode=[
            dict(
                type='CrossEntropyLoss',
                use_sigmoid=False,
                avg_non_ignore=True,
                loss_weight=0.5,
            ),
            dict(type='ClassWiseDiceLoss', loss_weight=0.5),
        ],
    ),
    auxiliary_head=dict(
        num_classes=6,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            avg_non_ignore=True,
            loss_weight=0.4,
        ),
    ),
    test_cfg=dict(mode='slide', crop_size=(256, 256), stride=(256, 256)),
)
