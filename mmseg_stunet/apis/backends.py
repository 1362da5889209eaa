"""Back-ends of the scene predictor: a batch of raw windows in, logits out.

:class:`~.scene_predictor.ScenePredictor` tiles a scene, reads, masks and
fills nodata, averages flips and writes the cores of the windows; a back-end
only turns a batch of raw windows, ``(N, C, h, w)`` float32 pixels in model
channel order (not normalised), into ``(N, K, h, w)`` logits, and says what
the predictor must know about the model (channels, classes, default window,
the pixel that normalises to zero, its input scale). Two back-ends share that
code:

- :class:`TorchBackend`: an MMSegmentation segmentor (its
  ``data_preprocessor`` and ``encode_decode``);
- :class:`OnnxBackend`: a file written by :func:`~.onnx_export.export_onnx`
  (``tools/export_onnx.py``) in onnxruntime, whose ONNX metadata (band order,
  mean/std, classes, palette, window) is the only source of those facts.
"""

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmseg.structures import SegDataSample

from ..utils.cli import BACKENDS  # noqa: F401  (names, light for --help)
from .inference import (
    default_window,
    describe_8bit,
    expects_8bit,
    feed_order,
    min_input_size,
    model_in_channels,
    neutral_pixel,
    pad_to_min_size,
)
from .onnx_export import OnnxMetadataError, OnnxSegmentor

__all__ = [
    'SegmentorBackend',
    'TorchBackend',
    'OnnxBackend',
    'BACKENDS',
    'make_backend',
    'session_options',
]


Window = Tuple[Tuple[int, int], Tuple[int, int]]


class SegmentorBackend:
    """What :class:`~.scene_predictor.ScenePredictor` needs of a model.

    Attributes:
        name (str): ``'pytorch'`` or ``'onnxruntime'``.
        in_channels (int): C, input channels.
        num_classes (int): K, classes (logit channels).
        fill (np.ndarray): (C,) raw pixel that the model's normalisation maps
            to 0 (its mean in model channel order); nodata is filled with it.
        expects (str | None): the model's input scale
            (:func:`~.inference.describe_8bit`), None if it says nothing.
        default_window (tuple | None): ``((h, w), (overlap_h, overlap_w))``
            the model is evaluated with, None if unknown.
        fixed_window (tuple | None): ``(h, w)`` when the model only takes
            windows of that size (a static ONNX graph), else None.
        dataset_meta (dict): ``classes`` and ``palette`` where known.
        source (str): how errors name the model (a file or a class name).
    """

    name = ''
    in_channels: int
    num_classes: int
    fill: np.ndarray
    expects: Optional[str] = None
    default_window: Optional[Window] = None
    fixed_window: Optional[Tuple[int, int]] = None
    dataset_meta: Dict[str, Any] = {}
    source = 'the model'

    def logits(self, raw: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) raw float32 pixels (CPU) -> (N, K, h, w) logits."""
        raise NotImplementedError

    def check_window(self, window: Tuple[int, int]) -> None:
        """Refuse (one-line ``ValueError``) a window the model cannot take."""
        if self.fixed_window is not None and tuple(window) != tuple(
            self.fixed_window
        ):
            raise ValueError(
                f'{self.source}: the graph takes fixed '
                f'{self.fixed_window[0]}x{self.fixed_window[1]} windows, but '
                f'window (--window) is {window[0]}x{window[1]}; predict '
                'with that window or export with dynamic sizes (without '
                '--static)'
            )


class TorchBackend(SegmentorBackend):
    """An MMSegmentation segmentor (eval mode) as a back-end.

    ``logits`` runs the raw pixels through the model's ``data_preprocessor``
    (which may pad right/bottom to its test size) and ``encode_decode``;
    windows with a side below :func:`~.inference.min_input_size` (small
    scenes) are padded to it and the logits cropped back.
    """

    name = 'pytorch'

    def __init__(self, model: nn.Module):
        self.model = model.eval()
        self.in_channels = model_in_channels(model)
        self.num_classes = model.decode_head.num_classes
        self.fill = neutral_pixel(model, self.in_channels)
        self.expects = expects_8bit(model)
        self.default_window = default_window(model)
        self.dataset_meta = getattr(model, 'dataset_meta', None) or {}
        self.min_size = min_input_size(model)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def logits(self, raw: torch.Tensor) -> torch.Tensor:
        h, w = raw.shape[-2:]
        data = self.model.data_preprocessor(
            dict(
                inputs=list(raw), data_samples=[SegDataSample() for _ in raw]
            ),
            False,
        )
        inputs = pad_to_min_size(data['inputs'], self.min_size)
        pad_shape = tuple(inputs.shape[-2:])
        metas = [dict(img_shape=(h, w), pad_shape=pad_shape)] * len(inputs)
        return self.model.encode_decode(inputs, metas)[..., :h, :w]


def session_options(
    threads: Optional[int] = None, optimization: str = 'all'
) -> Any:
    """onnxruntime ``SessionOptions``: ``threads`` intra-op threads (None:
    onnxruntime's default, one per physical core) and graph optimisation
    level ``'disable'``, ``'basic'``, ``'extended'`` or ``'all'``."""
    import onnxruntime as ort

    levels = dict(
        disable=ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        basic=ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        extended=ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        all=ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    )
    if optimization not in levels:
        raise ValueError(
            f'graph optimisation level must be one of '
            f'{sorted(levels)}, got {optimization!r}'
        )
    options = ort.SessionOptions()
    options.graph_optimization_level = levels[optimization]
    if threads is not None:
        options.intra_op_num_threads = threads
    return options


class OnnxBackend(SegmentorBackend):
    """An exported segmentor (:func:`~.onnx_export.export_onnx`) in
    onnxruntime, described by its ONNX metadata alone.

    From the metadata (:data:`~.onnx_export.METADATA_KEYS`): channels
    (``input_channels``; the graph's must agree), ``classes``, ``palette``,
    the default ``window`` and overlap (``window - stride``), the fill pixel
    (``mean``, in feed order: reversed when ``bgr_to_rgb``, since the graph
    swaps B and R before normalising) and the input scale (``mean``, ``std``).
    The class count is the graph's output channels (else ``len(classes)``,
    else that of the logits of one small probe input).
    A graph exported with ``--static`` takes exactly one (1, C, h, w) window:
    batches run window by window, and another window size is refused.

    Args:
        path (str): ONNX file from ``tools/export_onnx.py``.
        device (str): ``'cpu'`` or ``'cuda[:N]'`` (needs onnxruntime-gpu).
        threads (int, optional): intra-op threads. Default: onnxruntime's.
        optimization (str): graph optimisation level (:func:`session_options`).

    Raises:
        OnnxMetadataError: a file without the metadata, or with metadata
            that disagrees with its graph, in one line naming the key.
    """

    name = 'onnxruntime'

    def __init__(
        self,
        path: str,
        device: str = 'cpu',
        threads: Optional[int] = None,
        optimization: str = 'all',
    ):
        import onnxruntime as ort

        providers = ['CPUExecutionProvider']
        if str(device).startswith('cuda'):
            if 'CUDAExecutionProvider' not in ort.get_available_providers():
                raise ValueError(
                    f'--device {device}: this onnxruntime has no CUDA '
                    'execution provider (install onnxruntime-gpu), use '
                    '--device cpu'
                )
            index = str(device).partition(':')[2] or '0'
            providers = [
                ('CUDAExecutionProvider', dict(device_id=index)),
                'CPUExecutionProvider',
            ]
        self.runner = OnnxSegmentor(
            path, providers, session_options(threads, optimization)
        )
        self.source = path
        meta = self.runner.metadata
        self.in_channels = self.runner.in_channels
        if list(meta['band_order']) != feed_order(
            range(1, self.in_channels + 1)
        ):
            # the reader feeds feed_order(bands): select the file's bands so
            # that it gives band_order
            self.bands: Optional[List[int]] = feed_order(meta['band_order'])
        else:
            self.bands = None
        shape = self.runner.session.get_inputs()[0].shape
        out = self.runner.session.get_outputs()[0].shape
        classes = meta['classes']
        if isinstance(out[1], int):
            self.num_classes = out[1]
            if classes is not None and len(classes) != out[1]:
                raise OnnxMetadataError(
                    f'{path}: ONNX metadata classes has {len(classes)} '
                    f'names but the graph gives {out[1]} logits; re-export '
                    'it with tools/export_onnx.py'
                )
        self.fixed_batch = shape[0] if isinstance(shape[0], int) else None
        if all(isinstance(s, int) for s in shape[2:]):
            self.fixed_window = (shape[2], shape[3])
        if not isinstance(out[1], int):
            if classes is not None:
                self.num_classes = len(classes)
            else:  # neither says it: run the graph once on a small input
                probe = np.zeros(
                    (
                        self.fixed_batch or 1,
                        self.in_channels,
                        *(self.fixed_window or (8, 8)),
                    ),
                    np.float32,
                )
                self.num_classes = int(self.runner(probe).shape[1])
        window, stride = meta['window'], meta['stride']
        if window is not None:
            window = (int(window[0]), int(window[-1]))
            stride = window if stride is None else stride
            self.default_window = (
                window,
                tuple(max(0, w - int(s)) for w, s in zip(window, stride)),
            )
        elif self.fixed_window is not None:
            self.default_window = (self.fixed_window, (0, 0))
        if meta['mean'] is None:
            self.fill = np.zeros(self.in_channels, np.float32)
        else:
            mean = np.asarray(meta['mean'], np.float32)
            if meta['bgr_to_rgb']:
                mean = mean[::-1]
            self.fill = np.ascontiguousarray(mean)
            self.expects = describe_8bit(meta['mean'], meta['std'])
        self.dataset_meta = {
            k: meta[k] for k in ('classes', 'palette') if meta[k] is not None
        }

    @property
    def device(self) -> torch.device:
        return torch.device('cpu')  # logits come back as numpy arrays

    def logits(self, raw: torch.Tensor) -> torch.Tensor:
        pixels = np.ascontiguousarray(raw.cpu().numpy(), np.float32)
        if self.fixed_window is not None and tuple(pixels.shape[-2:]) != tuple(
            self.fixed_window
        ):
            raise OnnxMetadataError(
                f'{self.source}: a {pixels.shape[-2]}x{pixels.shape[-1]} '
                f'window (scene smaller than the window?), but the graph '
                f'takes fixed {self.fixed_window[0]}x{self.fixed_window[1]} '
                'windows; export with dynamic sizes (without --static)'
            )
        if self.fixed_batch is not None and len(pixels) != self.fixed_batch:
            out = [self.runner(pixels[i : i + 1]) for i in range(len(pixels))]
            return torch.from_numpy(np.concatenate(out))
        return torch.from_numpy(self.runner(pixels))


def make_backend(model: Any) -> SegmentorBackend:
    """A back-end as it is: an ``nn.Module`` segmentor in a
    :class:`TorchBackend`."""
    if isinstance(model, SegmentorBackend):
        return model
    if isinstance(model, nn.Module):
        return TorchBackend(model)
    raise TypeError(
        f'expected a segmentor (nn.Module) or a '
        f'SegmentorBackend, got {type(model).__name__}'
    )
