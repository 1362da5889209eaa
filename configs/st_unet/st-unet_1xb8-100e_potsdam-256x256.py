# ST-UNet on ISPRS Potsdam at the paper's protocol (see the Vaihingen config).
# Data: python tools/dataset_converters/potsdam.py RAW... -o data/potsdam
# (RGB tiles by default; --modality IRRG gives the Vaihingen band order).
_base_ = [
    '../_base_/models/st_unet.py',
    '../_base_/datasets/potsdam_256.py',
    '../_base_/schedules/schedule_100e.py',
]
crop_size = (256, 256)
# Potsdam RGB: ImageNet statistics in place of the Vaihingen IRRG ones.
data_preprocessor = dict(
    size=crop_size, mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]
)
model = dict(data_preprocessor=data_preprocessor)
