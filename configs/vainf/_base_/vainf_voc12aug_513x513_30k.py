# VainF/DeepLabV3Plus-Pytorch's VOC 2012 aug recipe on MMSegmentation's VOC
# data set: random scale 0.5-2.0 of the image, 513x513 crop (padded with
# ignore), horizontal flip, no colour jitter; validation on whole images;
# batch 16 (4 GPUs x 4), SGD lr 0.01 momentum 0.9 weight decay 1e-4,
# poly 0.9 over 30k iterations, backbone lr x0.1.
_base_ = [
    'mmseg::_base_/datasets/pascal_voc12_aug.py',
    '../../_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_40k.py'
]

crop_size = (513, 513)
# VOC images are at most 500 px long, so scale (500, 500) with keep_ratio
# resizes them by the sampled ratio itself, like VainF's ExtRandomScale.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(500, 500),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
dataset_train = dict(
    type={{_base_.dataset_type}},
    data_root={{_base_.data_root}},
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    ann_file='ImageSets/Segmentation/train.txt',
    pipeline=train_pipeline)
dataset_aug = dict(
    type={{_base_.dataset_type}},
    data_root={{_base_.data_root}},
    data_prefix=dict(
        img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
    ann_file='ImageSets/Segmentation/aug.txt',
    pipeline=train_pipeline)
train_dataloader = dict(
    batch_size=4,
    drop_last=True,  # BatchNorm in training fails on a batch of one
    dataset=dict(datasets=[dataset_train, dataset_aug]))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-6,
        power=0.9,
        begin=0,
        by_epoch=False)  # no `end`: it ends with the run (max_iters)
]
train_cfg = dict(max_iters=30000, val_interval=3000)
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=3000, save_best='mIoU'))
auto_scale_lr = dict(enable=False, base_batch_size=16)
