"""ONNX export of MMSegmentation segmentors with dynamic height and width,
and a check of the exported graph against PyTorch with onnxruntime."""
import time
import warnings
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from .inference import min_input_size, pad_to_min_size


class SegmentorLogits(nn.Module):
    """Raw pixels in, full-resolution logits out, for export.

    Folds the segmentor's data pre-processing (BGR->RGB swap for 3-channel
    input when the config asks for it, mean/std normalisation) into the graph,
    then runs ``extract_feat``, the decode head's ``forward`` and its
    ``predict_by_feat`` to the input size, as ``encode_decode`` does (a
    plain bilinear resize put ST-UNet's logits up to 0.12 off at sizes that
    are not multiples of 32, since its head crops its logits instead).

    Input: (N, in_channels, H, W) float32 pixels in the order :class:`SceneReader`
    gives them (BGR for a 3-band RGB image, as ``mmcv.imread``).
    Output: (N, num_classes, H, W) logits.

    Inputs with a side below :func:`~.inference.min_input_size` are padded
    to it after normalisation and the logits cropped back, as the scene
    predictor does, so small images run (and agree) in the exported graph
    too.
    """

    def __init__(self, segmentor: nn.Module, in_channels: int):
        super().__init__()
        self.segmentor = segmentor
        self.min_size = min_input_size(segmentor)
        pre = segmentor.data_preprocessor
        self.swap = in_channels == 3 and bool(
            getattr(pre, 'channel_conversion', False))
        self.normalize = bool(getattr(pre, '_enable_normalize', False))
        if self.normalize:
            self.register_buffer('mean', pre.mean.detach().clone(), False)
            self.register_buffer('std', pre.std.detach().clone(), False)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if self.swap:
            img = img.flip(1)
        if self.normalize:
            img = (img - self.mean) / self.std
        h, w = img.shape[2], img.shape[3]
        img = pad_to_min_size(img, self.min_size)
        feats = self.segmentor.extract_feat(img)
        logits = self.segmentor.decode_head(feats)
        # the head's own way to the input size, as encode_decode takes it
        # (bilinear resizing; STUNetHead crops its full-size logits)
        size = img.shape[2:]
        logits = self.segmentor.decode_head.predict_by_feat(
            logits, [dict(img_shape=size, pad_shape=size)])
        return logits[:, :, :h, :w]


def export_onnx(segmentor: nn.Module,
                path: str,
                in_channels: int,
                sample_size: Tuple[int, int] = (512, 512),
                opset: int = 17,
                dynamic: bool = True) -> nn.Module:
    """Export ``segmentor`` (eval mode, on CPU) to ``path``.

    The TorchScript-based exporter (``dynamo=False``) is used: it needs no
    ``onnxscript`` and traces the pure-PyTorch paths of the project's layers
    (deformable convolution included) into standard ONNX operators. With
    ``dynamic``, batch, height and width are dynamic axes; that is only
    correct for models whose shape arithmetic is traced as tensor operations
    (the project's configs, DCN and ST-UNet included, are; a layer that
    turns sizes into Python values is frozen at ``sample_size`` -- check
    with :func:`check_onnx` at other sizes); ``dynamic=False`` fixes the
    input to (1, in_channels, *sample_size), e.g. the window size of the
    scene predictor. See docs/inference.md for which models work which way.

    Returns:
        nn.Module: the exported wrapper (:class:`SegmentorLogits`).
    """
    wrapper = SegmentorLogits(segmentor, in_channels).eval()
    sample = torch.rand(1, in_channels, *sample_size) * 255
    axes = {0: 'batch', 2: 'height', 3: 'width'}
    with torch.no_grad(), warnings.catch_warnings():
        # torch's GroupNorm checks its batch size in Python; the traced
        # graph does not depend on it
        warnings.filterwarnings('ignore',
                                category=torch.jit.TracerWarning,
                                module=r'torch\.nn\.functional')
        torch.onnx.export(
            wrapper, (sample, ), path, dynamo=False, opset_version=opset,
            input_names=['image'], output_names=['logits'],
            dynamic_axes=dict(image=axes, logits=axes) if dynamic else None)
    return wrapper


def _median_time(fn: Callable[[], object], repeats: int) -> Optional[float]:
    if repeats < 1:
        return None
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def check_onnx(wrapper: nn.Module, path: str, in_channels: int,
               sizes: Sequence[Tuple[int, int]],
               repeats: int = 3, seed: int = 0) -> Dict[Tuple[int, int], dict]:
    """Compare an exported model with PyTorch on random images and time both.

    Returns:
        dict: per (H, W), ``max_abs_diff`` between the logits and median
        seconds per image over ``repeats`` runs after a warm-up, ``torch_s``
        and ``onnx_s`` (CPU; None with ``repeats=0``).

    Raises:
        RuntimeError: onnxruntime fails at a size, or either side gives
            non-finite logits (a difference of NaN is no agreement).
    """
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    gen = torch.Generator().manual_seed(seed)
    results = {}
    for size in sizes:
        img = torch.rand(1, in_channels, *size, generator=gen) * 255
        feed = {'image': img.numpy()}
        with torch.no_grad():
            expected = wrapper(img).numpy()
            try:
                got = session.run(None, feed)[0]
            except Exception as err:  # onnxruntime's own exception types
                raise RuntimeError(
                    f'{path} fails in onnxruntime at {tuple(size)}: {err} '
                    '(typically shape arithmetic traced as constants; '
                    'export with dynamic=False at the size to run)') from err
            torch_s = _median_time(lambda: wrapper(img), repeats)
            onnx_s = _median_time(lambda: session.run(None, feed), repeats)
        if got.shape != expected.shape:
            raise RuntimeError(f'ONNX output shape {got.shape} differs '
                               f'from PyTorch {expected.shape} at {size}')
        for name, logits in (('PyTorch', expected), ('onnxruntime', got)):
            if not np.isfinite(logits).all():
                raise RuntimeError(
                    f'{name} gives non-finite logits at {tuple(size)} '
                    f'({int((~np.isfinite(logits)).sum())} values) on a '
                    'random image: the model or checkpoint is broken')
        results[tuple(size)] = dict(
            max_abs_diff=float(np.abs(got - expected).max()),
            torch_s=torch_s, onnx_s=onnx_s)
    return results
