"""Converters (pure functions, nothing to register): ISPRS archives into
MMSegmentation's data layout, VainF DeepLabV3/V3+ checkpoints into
MMSegmentation checkpoints. Their command lines are in ``tools/``."""
