# DeepLabV3+ R-50-D8 baseline on LoveDA (7 classes) at the protocol of the
# ST-UNet LoveDA config: 256 crops, batch 8, no augmentation, no
# pretraining, 100 epochs, mIoU (IoUMetric; see ../_base_/datasets/
# loveda_256.py). Data: python tools/dataset_converters/loveda.py RAW_DIR
# -o data/loveDA
_base_ = [
    '../_base_/models/deeplabv3plus_r50-d8_256.py',
    '../_base_/datasets/loveda_256.py',
    '../_base_/schedules/schedule_100e.py',
]
model = dict(
    decode_head=dict(num_classes=7), auxiliary_head=dict(num_classes=7)
)
