# ST-UNet on ISPRS Potsdam IRRG tiles at the paper's protocol (see the
# Vaihingen config). Data: python tools/dataset_converters/potsdam.py RAW...
# --modality IRRG -o data/potsdam_irrg
# Normalisation: the model base's Vaihingen IRRG statistics (no Potsdam IRRG
# statistics were measured here; same band order, similar scenes).
_base_ = [
    '../_base_/models/st_unet.py',
    '../_base_/datasets/potsdam_irrg_256.py',
    '../_base_/schedules/schedule_100e.py',
]
crop_size = (256, 256)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
