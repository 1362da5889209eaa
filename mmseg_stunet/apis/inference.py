"""Building a segmentor for inference from a config and a checkpoint, and
what the scene predictor and the ONNX export read off it."""

import weakref
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch import nn

from ..engine.checkpoint import check_readable, load_model_checkpoint
from ..engine.config_check import read_config
from ..utils.bands import loaded_order

__all__ = [
    'init_segmentor',
    'model_in_channels',
    'default_window',
    'neutral_pixel',
    'feed_order',
    'expects_8bit',
    'describe_8bit',
    'min_input_size',
    'pad_to_min_size',
]


def init_segmentor(
    config: Union[str, Config],
    checkpoint: Optional[str] = None,
    device: str = 'cpu',
    cfg_options: Optional[dict] = None,
    allow_partial: bool = False,
) -> nn.Module:
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
    raise ValueError(
        f'{type(model.backbone).__name__} has no Conv2d; '
        'cannot tell how many input channels it expects'
    )


def feed_order(bands: Sequence[int]) -> List[int]:
    """The selected 1-based file ``bands`` in the order the model is fed
    them: the order ``LoadImageFromFile`` gives the converted tiles in
    training (:func:`~mmseg_stunet.utils.bands.loaded_order`): 3 or 4
    bands with the first three reversed (B, G, R (, IR) of an RGB(IR)
    file), other counts as they are."""
    return loaded_order(bands)


def default_window(
    model: nn.Module,
) -> Optional[Tuple[Tuple[int, int], Tuple[int, int]]]:
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


def expects_8bit(model: nn.Module) -> Optional[str]:
    """What the model's normalisation says about its input: a description
    (``'8-bit input (uint8, 0..255; normalisation mean 123.7, ...)'``) when
    every mean of its data preprocessor lies in 0..255, as with every config
    here, trained on 8-bit images; None without normalisation or with means
    on another scale (nothing to compare a scene with)."""
    pre = model.data_preprocessor
    if not getattr(pre, '_enable_normalize', False):
        return None
    return describe_8bit(
        pre.mean.detach().flatten().cpu().numpy(),
        pre.std.detach().flatten().cpu().numpy(),
    )


def describe_8bit(
    mean: Sequence[float], std: Sequence[float]
) -> Optional[str]:
    """:func:`expects_8bit` of a normalisation given as per-channel
    ``mean`` and ``std`` (e.g. an ONNX file's metadata)."""
    mean, std = np.asarray(mean, float), np.asarray(std, float)
    if not ((mean >= 0) & (mean <= 255)).all():
        return None
    fmt = ', '.join
    return (
        '8-bit input (uint8, 0..255; normalisation mean '
        f'{fmt(f"{v:.1f}" for v in mean)}, std '
        f'{fmt(f"{v:.1f}" for v in std)})'
    )


_MIN_SIZES: 'weakref.WeakKeyDictionary[nn.Module, int]' = (
    weakref.WeakKeyDictionary()
)


@torch.no_grad()
def min_input_size(model: nn.Module, probe: int = 64) -> int:
    """Twice the model's output stride (that of its coarsest feature map,
    measured once per model on a ``probe`` x ``probe`` input of zeros;
    ``probe`` if that map is 1 x 1 already): the smallest side for which
    its deepest map is at least 2 x 2 (64 for ST-UNet).

    On a 1 x 1 deepest map ST-UNet's projection GroupNorm (one group per
    channel) normalises a single value: torch refuses it for one image
    ("Expected more than 1 value per channel"), and for more it gives 0
    whatever the input. Inputs with a shorter side are padded to this size
    (:func:`pad_to_min_size`) and the result is cropped back.
    """
    if model in _MIN_SIZES:
        return _MIN_SIZES[model]
    param = next(model.parameters())
    # wide enough not to be 1 x 1 at stride probe / 2 (GroupNorm would stop)
    x = param.new_zeros(1, model_in_channels(model), probe, 2 * probe)
    training = model.training
    model.eval()  # BatchNorm statistics stay as they are
    try:
        feats = model.extract_feat(x)
    finally:
        model.train(training)
    sides = [
        f.shape[-2]
        for f in feats
        if isinstance(f, torch.Tensor) and f.dim() == 4
    ]
    size = 2 * max(1, probe // min(sides)) if sides else 1
    _MIN_SIZES[model] = size
    return size


def pad_to_min_size(x: torch.Tensor, min_size: int) -> torch.Tensor:
    """Pad (N, C, H, W) with zeros on the right and bottom so that each
    side is at least ``min_size`` (the normalised inputs' zero is the mean
    pixel, as the data preprocessor pads); sides already that long are left
    alone, so larger inputs predict exactly as before. Traced for ONNX, the
    padding is computed from the input's shape in the graph."""
    if torch.jit.is_tracing():
        # the traced sizes are tensors: pad by min_size, keep
        # max(size, min_size) rows and columns
        h, w = x.shape[-2], x.shape[-1]
        padded = F.pad(x, (0, min_size, 0, min_size))
        return padded[
            :,
            :,
            : torch.clamp(h, min=min_size),
            : torch.clamp(w, min=min_size),
        ]
    h, w = x.shape[-2:]
    if h >= min_size and w >= min_size:
        return x
    return F.pad(x, (0, max(0, min_size - w), 0, max(0, min_size - h)))
