# ISPRS Potsdam IRRG tiles (tools/dataset_converters/potsdam.py --modality
# IRRG -o data/potsdam_irrg), otherwise as potsdam_256.py: the Vaihingen band
# order (IR, R, G in the files; LoadImageFromFile gives G, R, IR and the
# data preprocessor's bgr_to_rgb turns it back into IR, R, G).
_base_ = './potsdam_256.py'
data_root = 'data/potsdam_irrg'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
