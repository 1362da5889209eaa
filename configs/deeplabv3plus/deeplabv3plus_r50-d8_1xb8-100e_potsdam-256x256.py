# DeepLabV3+ R-50-D8 baseline on ISPRS Potsdam RGB tiles, at the protocol of
# the Vaihingen config (same model, schedule and ImageNet normalisation).
# Data: python tools/dataset_converters/potsdam.py RAW... -o data/potsdam
_base_ = './deeplabv3plus_r50-d8_1xb8-100e_vaihingen-256x256.py'
dataset_type = 'ISPRSPotsdamDataset'
data_root = 'data/potsdam'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
