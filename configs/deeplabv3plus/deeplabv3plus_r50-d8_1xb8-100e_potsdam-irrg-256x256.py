# DeepLabV3+ R-50-D8 baseline on ISPRS Potsdam IRRG tiles (as the Vaihingen
# config: the bands are fed IR, R, G after bgr_to_rgb).
# Data: python tools/dataset_converters/potsdam.py RAW... --modality IRRG
# -o data/potsdam_irrg
_base_ = './deeplabv3plus_r50-d8_1xb8-100e_potsdam-256x256.py'
data_root = 'data/potsdam_irrg'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
