# Reduced-width ST-UNet for the CPU demo (tools/demo.py) and the end-to-end
# tests: the protocol of st-unet_1xb8-100e_vaihingen-256x256.py with the
# project's one tiny model (../_base_/models/st_unet_tiny.py: same
# architecture and loss, about 1/8 of the widths, one CNN unit and two Swin
# blocks per stage), 128x128 tiles of the synthetic raw-ISPRS data set, an
# iteration-based poly schedule.
_base_ = [
    '../_base_/models/st_unet_tiny.py',
    '../_base_/datasets/vaihingen_256.py',
    '../_base_/schedules/schedule_100e.py',
]
data_root = 'work_dirs/demo/data'
crop_size = (128, 128)
max_iters = 600
model = dict(
    data_preprocessor=dict(size=crop_size),
    test_cfg=dict(crop_size=crop_size, stride=crop_size),
)
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root=data_root),
)
val_dataloader = dict(num_workers=1, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
optimizer = dict(lr=0.05)
optim_wrapper = dict(optimizer=optimizer)
param_scheduler = [
    dict(
        type='PolyLR', eta_min=0.0, power=0.9, begin=0, by_epoch=False
    )  # no `end`: it ends with the run (max_iters)
]
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters,
)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(
        by_epoch=False, interval=200, max_keep_ckpts=1, save_best=None
    ),
)
log_processor = dict(by_epoch=False)
# a fixed seed: the same data order and initial weights in every run, so a
# run repeats on the same machine (CPU kernels with the same thread count)
randomness = dict(seed=0)
