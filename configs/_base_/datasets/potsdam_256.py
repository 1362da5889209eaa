# ISPRS Potsdam at the ST-UNet paper's protocol: the Vaihingen set-up
# (256x256 patches, batch 8, no augmentation, ISPRS scores) on the tiles of
# tools/dataset_converters/potsdam.py (paper split, val = the paper's test
# tiles, RGB by default). mmseg's own potsdam/vaihingen bases differ only in
# these two names.
_base_ = './vaihingen_256.py'
dataset_type = 'ISPRSPotsdamDataset'  # PotsdamDataset, empty folders refused
data_root = 'data/potsdam'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
