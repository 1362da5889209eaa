# The ST-UNet paper's schedule: SGD lr 0.01, momentum 0.9, weight decay 1e-4,
# poly decay (power 0.9, to 0) stepped every iteration, 100 epochs of the
# training split (with batch 8: 100 * ceil(tiles / 8) iterations). The
# schedule has no `end`: mmengine ends it with the training loop, so it
# follows `train_cfg.max_epochs` when that is changed.
# Inherits the project's runtime, so that the epoch-based logging below
# overrides MMSegmentation's iteration-based default in one place.
_base_ = '../default_runtime.py'
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        by_epoch=True,
        convert_to_iter_based=True,
    )
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
log_processor = dict(by_epoch=True)  # the schedule counts epochs
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Atomic saving: a kill while saving never breaks `last_checkpoint`.
    checkpoint=dict(
        type='AtomicCheckpointHook',
        by_epoch=True,
        interval=10,
        max_keep_ckpts=2,
        save_best='mIoU',
        rule='greater',
    ),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'),
)
