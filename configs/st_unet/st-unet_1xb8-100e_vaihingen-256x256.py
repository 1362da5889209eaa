# ST-UNet on ISPRS Vaihingen at the paper's protocol (He et al. 2022): 256x256
# patches, batch 8, no augmentation, no pretraining, SGD 0.01 / momentum 0.9 /
# weight decay 1e-4, poly 0.9, 0.5 CE + 0.5 class-wise Dice, 100 epochs.
# Data: python tools/dataset_converters/vaihingen.py RAW... -o data/vaihingen
_base_ = [
    '../_base_/models/st_unet.py',
    '../_base_/datasets/vaihingen_256.py',
    '../_base_/schedules/schedule_100e.py',
]
crop_size = (256, 256)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
