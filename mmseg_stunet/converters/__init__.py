"""Converters (pure functions, nothing to register): ISPRS and LoveDA
archives into MMSegmentation's data layout, VainF DeepLabV3/V3+ checkpoints
into MMSegmentation checkpoints. Their command lines are in ``tools/``.

The ISPRS conversion (``isprs``, whose public names stay importable from
it) is split along its seams: ``sources`` (finding and classifying the raw
files), ``label_colours`` (colour labels -> values), ``state`` (resumable
state, refusing changed sources), with tiling and stitching in
:mod:`mmseg_stunet.utils.tiling`."""
