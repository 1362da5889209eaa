"""Building a segmentor for inference from a config and a checkpoint, and
what the scene predictor and the ONNX export read off it."""
from typing import Optional, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from ..engine.checkpoint import check_readable, load_model_checkpoint
from ..engine.config_check import read_config

__all__ = [
    'init_segmentor', 'model_in_channels', 'default_window', 'neutral_pixel'
]


def init_segmentor(config: Union[str, Config],
                   checkpoint: Optional[str] = None,
                   device: str = 'cpu', cfg_options: Optional[dict] = None,
                   allow_partial: bool = False) -> nn.Module:
    """``mmseg.apis.init_model`` whose checkpoint must fit the model.

    ``init_model`` loads what fits and logs the rest, so a checkpoint of
    another model predicts with random weights; here the checkpoint is read
    with :func:`~mmseg_stunet.engine.checkpoint.load_model_checkpoint`
    (errors name the file; missing or reshaped weights are refused unless
    ``allow_partial``), and its ``dataset_meta`` is kept as ``init_model``
    keeps it. A config path is read with
    :func:`~mmseg_stunet.engine.config_check.read_config` (one-line errors
    for the file, ``cfg_options`` and unregistered types), and the
    checkpoint is checked to be readable before the model is built.
    """
    from mmseg.apis import init_model
    if isinstance(config, str):
        # one-line errors for the file, the options and unknown types
        config = read_config(config, cfg_options)
        cfg_options = None
    if checkpoint is not None:
        check_readable(checkpoint, 'checkpoint')  # before building
    model = init_model(config, None, 'cpu', cfg_options)
    if checkpoint is not None:
        ckpt = load_model_checkpoint(model, checkpoint, allow_partial)
        meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
        if 'dataset_meta' in meta:
            model.dataset_meta = meta['dataset_meta']
    return model.to(device).eval()


def model_in_channels(model: nn.Module) -> int:
    """Input channels of a segmentor: those of its backbone's first conv."""
    for module in model.backbone.modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
    raise ValueError(f'{type(model.backbone).__name__} has no Conv2d; '
                     'cannot tell how many input channels it expects')


def default_window(
        model: nn.Module) -> Optional[Tuple[Tuple[int, int], Tuple[int, int]]]:
    """``(window, overlap)`` the model is evaluated with: the crop and
    stride of a ``slide`` ``test_cfg`` (overlap = crop - stride), else the
    training crop of the data preprocessor with no overlap; None if the
    config states neither."""
    test_cfg = getattr(model, 'test_cfg', None) or {}
    if test_cfg.get('mode') == 'slide':
        crop = tuple(test_cfg['crop_size'])
        stride = tuple(test_cfg['stride'])
        return crop, tuple(max(0, c - s) for c, s in zip(crop, stride))
    size = getattr(model.data_preprocessor, 'size', None)
    if size:
        return tuple(size), (0, 0)
    return None


def neutral_pixel(model: nn.Module, in_channels: int) -> np.ndarray:
    """(C,) raw pixel, in the channel order the model is fed, that the data
    preprocessor maps to 0 (its mean); zeros without normalisation. Nodata
    pixels are filled with it: to the model they look like padding."""
    pre = model.data_preprocessor
    if not getattr(pre, '_enable_normalize', False):
        return np.zeros(in_channels, np.float32)
    mean = pre.mean.detach().flatten().cpu().numpy().astype(np.float32)
    if in_channels == 3 and getattr(pre, 'channel_conversion', False):
        mean = mean[::-1]  # the preprocessor swaps BGR -> RGB first
    return np.ascontiguousarray(mean)
