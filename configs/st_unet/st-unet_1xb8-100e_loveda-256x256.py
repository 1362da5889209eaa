# ST-UNet on LoveDA (urban and rural scenes, 7 classes) at the paper's
# protocol (see the Vaihingen config): 256 crops, batch 8, no augmentation,
# 100 epochs (one crop per 1024x1024 image per epoch), mIoU.
# Data: python tools/dataset_converters/loveda.py RAW_DIR -o data/loveDA
_base_ = [
    '../_base_/models/st_unet.py',
    '../_base_/datasets/loveda_256.py',
    '../_base_/schedules/schedule_100e.py',
]
crop_size = (256, 256)
# LoveDA RGB: ImageNet statistics in place of the Vaihingen IRRG ones
data_preprocessor = dict(
    size=crop_size, mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]
)
model = dict(
    data_preprocessor=data_preprocessor, decode_head=dict(num_classes=7)
)
