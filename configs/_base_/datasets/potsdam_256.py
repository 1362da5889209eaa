# ISPRS Potsdam at the ST-UNet paper's protocol (He et al. 2022): 256x256
# tiles from tools/dataset_converters/potsdam.py (defaults: size 256,
# stride 256, paper split, val = the paper's test tiles, RGB), batch 8, no
# augmentation, whole-tile testing, ISPRS scores. Pipelines and dataset are
# MMSegmentation's (PotsdamDataset, reduce_zero_label: boundary 0 -> ignored).
# Eroded-boundary scores: test on seg_map_path='ann_dir_eroded/val'.
_base_ = 'mmseg::_base_/datasets/potsdam.py'
crop_size = (256, 256)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
# Epoch-based: the paper trains 100 epochs of the split, whatever its size.
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='ISPRSMetric')
test_evaluator = val_evaluator
