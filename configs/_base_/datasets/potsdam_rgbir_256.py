# ISPRS Potsdam RGBIR tiles (tools/dataset_converters/potsdam.py --modality
# RGBIR -o data/potsdam_rgbir): four bands R, G, B, IR in the files, read
# with color_type='unchanged' (the default 'color' drops the fourth band);
# OpenCV gives them as B, G, R, IR, and so does tools/predict.py from the
# original GeoTIFFs (mmseg_stunet/utils/bands.py). The data preprocessor
# swaps only 3-channel input, so the model sees B, G, R, IR.
# The pipelines are potsdam_256.py's with that one loader setting.
_base_ = './potsdam_256.py'
data_root = 'data/potsdam_rgbir'
num_classes = 6
train_pipeline = [
    dict(type='LoadImageFromFile', color_type='unchanged'),
    dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size={{_base_.crop_size}}),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='unchanged'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
