# st-unet_1xb8-100e_vaihingen-256x256.py with MMSegmentation's standard ISPRS augmentation
# (random rescale 0.5-2, random crop with cat_max_ratio 0.75, flip,
# photometric distortion), scaled to the 256 tiles.
_base_ = './st-unet_1xb8-100e_vaihingen-256x256.py'
crop_size = (256, 256)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(256, 256),
        ratio_range=(0.5, 2.0),
        keep_ratio=True,
    ),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
