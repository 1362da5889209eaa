# LoveDA (mmseg's layout: img_dir/{train,val}, ann_dir/{train,val}, from
# tools/dataset_converters/loveda.py or MMSegmentation's converter) at the
# ST-UNet paper's protocol, as vaihingen_256.py (inherited: 256x256 random
# crops of the 1024x1024 images, batch 8, no augmentation, drop_last,
# tested as 256 windows over the whole images; MMSegmentation's LoveDA base
# resizes, flips and distorts colours instead). Masks: 0 no-data (ignored,
# reduce_zero_label), 1..7 the classes background, building, road, water,
# barren, forest, agricultural; values past them are refused when the masks
# load, naming the file (the data set adds CheckSegMap after
# LoadAnnotations, see vaihingen_256.py).
# Metric: MMSegmentation's IoUMetric (mIoU over all seven classes): it is
# the LoveDA benchmark's score, so results compare with published and
# MMSegmentation tables. ISPRSMetric adds nothing that fits LoveDA (ISPRS
# tile stitching by tile names, a clutter exclusion, an "eroded ground
# truth" notice that LoveDA's no-data pixels would trigger), and IoUMetric
# would drop out-of-range labels silently, hence the check above.
_base_ = './vaihingen_256.py'
dataset_type = 'CheckedLoveDADataset'  # LoveDADataset, empty folders refused
data_root = 'data/loveDA'
num_classes = 7
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
