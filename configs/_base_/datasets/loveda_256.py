# LoveDA (mmseg's layout: img_dir/{train,val}, ann_dir/{train,val}, from
# tools/dataset_converters/loveda.py or MMSegmentation's converter) at the
# ST-UNet paper's protocol: 256x256 random crops of the 1024x1024 images,
# batch 8, no augmentation (MMSegmentation's LoveDA base resizes, flips and
# distorts colours), tested as 256 windows (the model's test_cfg) over the
# whole images. Masks: 0 no-data (ignored, reduce_zero_label), 1..7 the
# classes background, building, road, water, barren, forest, agricultural.
# Metric: MMSegmentation's IoUMetric (mIoU over all seven classes), kept
# from its base: it is the LoveDA benchmark's score, so results compare
# with published and MMSegmentation tables. ISPRSMetric adds nothing that
# fits LoveDA (ISPRS tile stitching by tile names, a clutter exclusion, an
# "eroded ground truth" notice that LoveDA's no-data pixels would trigger);
# label values past the classes, which IoUMetric would drop silently, are
# refused when the masks load (the data set adds CheckSegMap after
# LoadAnnotations, see vaihingen_256.py), naming the file.
_base_ = 'mmseg::_base_/datasets/loveda.py'
dataset_type = 'CheckedLoveDADataset'  # LoveDADataset, empty folders refused
data_root = 'data/loveDA'
crop_size = (256, 256)
num_classes = 7
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
# epoch-based as the ISPRS configs; drop_last: see vaihingen_256.py
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
