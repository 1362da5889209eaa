# MMSegmentation's runtime (hooks, logging, visualiser, environment) with
# this package imported: every config of the project inherits it, so
# tools/train.py, tools/test.py and `mim train/test mmseg` register the
# project's models, hooks, datasets and metric, and mmengine checkpoints load
# under torch's weights_only default.
_base_ = 'mmseg::_base_/default_runtime.py'
custom_imports = dict(imports=['mmseg_stunet'], allow_failed_imports=False)
# mmengine's Runner with the training step and channels_last repaired
# (mmseg_stunet.engine.runner)
runner_type = 'CheckedRunner'
custom_hooks = [
    # unreadable checkpoints, and when testing or resuming, checkpoints that
    # do not fit the model, stop the run naming the file
    dict(type='CheckpointCheckHook'),
    # a model predicting another number of classes than the data set has
    # stops the run, naming both
    dict(type='ClassCountCheckHook'),
    # the first NaN/inf loss stops training; NaN weights are never saved
    dict(type='DivergenceHook'),
    # --resume trains on the same sample order as the interrupted run
    dict(type='ResumeDataOrderHook'),
]
