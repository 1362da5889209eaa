# MMSegmentation's DeepLabV3+ R-50-D8 as the baseline on the same protocol as
# st_unet_vaihingen.py: 256 tiles, batch 8, no augmentation, no pretraining
# (MMSegmentation's own configs start from ImageNet weights), SGD 0.01 poly,
# 100 epochs, 0.5 CE + 0.5 Dice on the decode head. The FCN auxiliary head
# (CE, weight 0.4) is MMSegmentation's standard part of this model.
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
    './_base_/datasets/vaihingen_256.py', 'mmseg::_base_/default_runtime.py',
    './_base_/schedules/schedule_100e.py'
]
custom_imports = dict(imports=['mmseg_stunet'], allow_failed_imports=False)
crop_size = (256, 256)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    decode_head=dict(
        num_classes=6,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.5),
            dict(type='DiceLoss', use_sigmoid=False, loss_weight=0.5)
        ]),
    auxiliary_head=dict(num_classes=6))
log_processor = dict(by_epoch=True)  # the schedule counts epochs
