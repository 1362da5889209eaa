# ISPRS Vaihingen at the ST-UNet paper's protocol (He et al. 2022): 256x256
# patches from tools/dataset_converters/vaihingen.py (defaults: size 256,
# stride 256, paper split, val = the paper's test areas), batch 8, no
# augmentation, ISPRS scores. Tiles of another size (e.g. MMSegmentation's
# 512 tiles) are cropped to 256 for training and evaluated as 256 windows
# (the model's test_cfg); on 256 tiles both are no-ops.
# Labels: full ground truth (ann_dir); MMSegmentation's own converter writes
# the *eroded* labels there, see docs/data.md.
# Eroded-boundary scores: test on seg_map_path='ann_dir_eroded/val'.
_base_ = 'mmseg::_base_/datasets/vaihingen.py'
dataset_type = 'ISPRSVaihingenDataset'  # ISPRSDataset, empty folders refused
data_root = 'data/vaihingen'
crop_size = (256, 256)
num_classes = 6
# The ISPRS data sets check every label map right after LoadAnnotations
# (CheckSegMap: values past the classes, size unlike the image, naming the
# file); it is not listed here, so that mmseg's inference_model and
# MMSegInferencer, which reuse test_pipeline without LoadAnnotations, work.
# LoadAnnotations takes reduce_zero_label (file 0 = boundary -> ignored,
# 1..6 -> classes 0..5) from the data set (ISPRSDataset's default, True);
# mmseg deprecates setting it on LoadAnnotations (a warning every run).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
# Epoch-based: the paper trains 100 epochs of the split, whatever its size.
# drop_last: a last batch of one tile (tile count = 1 mod 8) stops BatchNorm
# in training (DeepLabV3+'s image pooling sees one value per channel); the
# few tiles left out differ from epoch to epoch with the shuffle.
train_dataloader = dict(
    batch_size=8,
    drop_last=True,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, pipeline=train_pipeline
    ),
)
val_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, pipeline=test_pipeline
    )
)
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='ISPRSMetric')
test_evaluator = val_evaluator
