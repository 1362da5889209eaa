# MMSegmentation's DeepLabV3+ R-50-D8 as the baseline on the same protocol as
# the ST-UNet configs: 256 patches (tested as 256 windows), batch 8, no
# augmentation, no pretraining (MMSegmentation's own configs start from
# ImageNet weights), SGD 0.01 poly, 100 epochs, 0.5 CE + 0.5 class-wise Dice
# on the decode head, as ST-UNet. The FCN auxiliary head (CE, weight 0.4) is
# MMSegmentation's standard part of this model (../_base_/models/
# deeplabv3plus_r50-d8_256.py).
_base_ = [
    '../_base_/models/deeplabv3plus_r50-d8_256.py',
    '../_base_/datasets/vaihingen_256.py',
    '../_base_/schedules/schedule_100e.py',
]
