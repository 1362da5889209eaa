"""ONNX export of MMSegmentation segmentors with dynamic height and width,
the input conventions written into the file's metadata, a runner that reads
and checks them, and a check of the exported graph against PyTorch with
onnxruntime."""

import contextlib
import json
import os.path as osp
import time
import warnings
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
)

import numpy as np
import torch
import torch.nn as nn

from ..engine.errors import one_line
from ..version import __version__
from .inference import (
    default_window,
    feed_order,
    min_input_size,
    pad_to_min_size,
)

__all__ = [
    'SegmentorLogits',
    'export_onnx',
    'check_onnx',
    'onnx_metadata',
    'write_onnx_metadata',
    'read_onnx_metadata',
    'describe_input',
    'OnnxSegmentor',
    'OnnxMetadataError',
    'OnnxModelError',
    'METADATA_KEYS',
]

#: ``metadata_props`` that :func:`export_onnx` writes (values JSON-encoded)
#: and :class:`OnnxSegmentor` requires: without them nothing in the file
#: says which band goes into which input channel
METADATA_KEYS = (
    'mmseg_stunet_version',
    'input_channels',
    'band_order',
    'bgr_to_rgb',
    'mean',
    'std',
    'classes',
    'palette',
    'window',
    'stride',
)


class OnnxMetadataError(ValueError):
    """An ONNX file without the project's metadata, or input that does not
    fit it."""


class OnnxModelError(ValueError):
    """A file that onnxruntime cannot load, or a graph it fails to run.

    onnxruntime's own errors (``InvalidProtobuf``, ``NoSuchFile``, ``Fail``
    ...) derive from ``Exception`` only, so the tools would print them as a
    traceback; this one line names the file (and the input's shape)."""


@contextlib.contextmanager
def _onnxruntime_errors(what: str) -> Iterator[None]:
    """Re-raise onnxruntime's own errors in the block as
    :class:`OnnxModelError`: ``'<what> (<its message on one line>)'``."""
    try:
        yield
    except Exception as err:
        if not type(err).__module__.startswith('onnxruntime'):
            raise
        raise OnnxModelError(f'{what} ({one_line(err)})') from err


def _preprocessing(
    segmentor: nn.Module, in_channels: int
) -> Tuple[bool, Optional[torch.Tensor], Optional[torch.Tensor]]:
    """``(swap, mean, std)`` of the segmentor's data preprocessor: whether
    it turns BGR into RGB (only for 3 channels, as mmseg's does) and its
    normalisation (None without)."""
    pre = segmentor.data_preprocessor
    swap = in_channels == 3 and bool(getattr(pre, 'channel_conversion', False))
    if not getattr(pre, '_enable_normalize', False):
        return swap, None, None
    return swap, pre.mean.detach().clone(), pre.std.detach().clone()


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
        self.swap, mean, std = _preprocessing(segmentor, in_channels)
        self.normalize = mean is not None
        if self.normalize:
            self.register_buffer('mean', mean, False)
            self.register_buffer('std', std, False)

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
            logits, [dict(img_shape=size, pad_shape=size)]
        )
        return logits[:, :, :h, :w]


def onnx_metadata(segmentor: nn.Module, in_channels: int) -> Dict[str, Any]:
    """What a user of the exported graph must know, as :data:`METADATA_KEYS`.

    ``band_order``: channel ``i`` of the input is band ``band_order[i]``
    (1-based) of the image file -- ``[3, 2, 1]`` for three bands (B, G, R
    of an RGB file, G, R, IR of Vaihingen's IRRG), ``[3, 2, 1, 4]`` for four
    (B, G, R, IR of Potsdam's RGBIR), as ``mmcv.imread`` loads them in
    training and ``tools/predict.py`` reads them; other band counts in file
    order. ``bgr_to_rgb``, ``mean`` and ``std`` are the data
    preprocessor's (inside the graph: feed raw pixels). ``classes`` and
    ``palette`` come from the segmentor's ``dataset_meta`` (the
    checkpoint's), ``window`` and ``stride`` (height, width) from its
    ``test_cfg`` (:func:`~mmseg_stunet.apis.inference.default_window`),
    None where it states none.
    """
    swap, mean, std = _preprocessing(segmentor, in_channels)
    meta = getattr(segmentor, 'dataset_meta', None) or {}
    window = default_window(segmentor)

    def plain(value: Any) -> Any:
        return None if value is None else np.asarray(value).tolist()

    return dict(
        mmseg_stunet_version=__version__,
        input_channels=in_channels,
        band_order=feed_order(range(1, in_channels + 1)),
        bgr_to_rgb=swap,
        mean=plain(None if mean is None else mean.flatten()),
        std=plain(None if std is None else std.flatten()),
        classes=plain(meta.get('classes')),
        palette=plain(meta.get('palette')),
        window=plain(window and window[0]),
        stride=plain(window and [w - o for w, o in zip(*window)]),
    )


def describe_input(metadata: Dict[str, Any]) -> str:
    """One line: the band order and pixel conventions of the graph's input."""
    order = metadata['band_order']
    text = (
        f'input channels = bands {", ".join(map(str, order))} of the '
        'image file (1-based)'
    )
    if len(order) in (3, 4):
        text += (
            f' (B, G, R{", IR" if len(order) == 4 else ""} of an '
            f'RGB{"IR" if len(order) == 4 else ""} file, as mmcv.imread '
            'reads it)'
        )
    swap = ', swapped to RGB in the graph' if metadata['bgr_to_rgb'] else ''
    return (
        f'{text}; raw pixels, normalised in the graph (mean '
        f'{metadata["mean"]}, std {metadata["std"]}{swap})'
    )


def write_onnx_metadata(path: str, metadata: Dict[str, Any]) -> None:
    """Store ``metadata`` in the ``metadata_props`` of the ONNX file
    ``path`` (values JSON-encoded; keys already there are replaced)."""
    import onnx

    model = onnx.load(path)
    keep = [
        (p.key, p.value) for p in model.metadata_props if p.key not in metadata
    ]
    del model.metadata_props[:]
    for key, value in keep + [(k, json.dumps(v)) for k, v in metadata.items()]:
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, path)


def read_onnx_metadata(props: Dict[str, str], path: str) -> Dict[str, Any]:
    """Decode and check the :data:`METADATA_KEYS` of an ONNX file's
    ``metadata_props`` (``props``, as onnxruntime's
    ``custom_metadata_map`` gives them).

    Raises:
        OnnxMetadataError: in one line naming ``path`` and the missing or
            undecodable keys.
    """
    missing = [k for k in METADATA_KEYS if k not in props]
    if missing:
        raise OnnxMetadataError(
            f'{path}: no {", ".join(missing)} in the ONNX metadata, so '
            'nothing says which image band goes into which input channel; '
            're-export it with tools/export_onnx.py'
        )
    metadata = {}
    for key in METADATA_KEYS:
        try:
            metadata[key] = json.loads(props[key])
        except ValueError as err:
            raise OnnxMetadataError(
                f'{path}: ONNX metadata {key}={props[key]!r} is not JSON '
                f'({err}); re-export it with tools/export_onnx.py'
            ) from err
    return metadata


def export_onnx(
    segmentor: nn.Module,
    path: str,
    in_channels: int,
    sample_size: Tuple[int, int] = (512, 512),
    opset: int = 17,
    dynamic: bool = True,
    metadata: Optional[Dict[str, Any]] = None,
) -> nn.Module:
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
    ``metadata`` (default :func:`onnx_metadata`) goes into the file's
    ``metadata_props``.

    Returns:
        nn.Module: the exported wrapper (:class:`SegmentorLogits`).
    """
    wrapper = SegmentorLogits(segmentor, in_channels).eval()
    sample = torch.rand(1, in_channels, *sample_size) * 255
    axes = {0: 'batch', 2: 'height', 3: 'width'}
    with torch.no_grad(), warnings.catch_warnings():
        # torch's GroupNorm checks its batch size in Python; the traced
        # graph does not depend on it
        warnings.filterwarnings(
            'ignore',
            category=torch.jit.TracerWarning,
            module=r'torch\.nn\.functional',
        )
        torch.onnx.export(
            wrapper,
            (sample,),
            path,
            dynamo=False,
            opset_version=opset,
            input_names=['image'],
            output_names=['logits'],
            dynamic_axes=dict(image=axes, logits=axes) if dynamic else None,
        )
    write_onnx_metadata(
        path,
        onnx_metadata(segmentor, in_channels)
        if metadata is None
        else metadata,
    )
    return wrapper


class OnnxSegmentor:
    """An exported segmentor in onnxruntime that knows its input: reads the
    file's metadata (:func:`read_onnx_metadata`) and refuses input with
    another channel count.

    Args:
        path (str): ONNX file written by :func:`export_onnx`.
        providers (Sequence[str], optional): onnxruntime execution
            providers. Default: CPU.
        session_options (onnxruntime.SessionOptions, optional): threads,
            graph optimisation level etc. Default: onnxruntime's.

    Raises:
        FileNotFoundError, IsADirectoryError: no file at ``path``.
        OnnxModelError: a file onnxruntime cannot load (not ONNX, truncated,
            an unknown operator).
        OnnxMetadataError: a file without the metadata, or whose graph
            input has another channel count than its metadata says.
    """

    def __init__(
        self,
        path: str,
        providers: Optional[Sequence[str]] = None,
        session_options: Optional[Any] = None,
    ):
        import onnxruntime as ort

        self.path = path
        if osp.isdir(path):
            raise IsADirectoryError(f'{path}: a folder, not an ONNX file')
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path}: no such ONNX file')
        with _onnxruntime_errors(
            f'{path}: onnxruntime cannot load it as a model'
        ):
            self.session = ort.InferenceSession(
                path,
                sess_options=session_options,
                providers=list(providers or ['CPUExecutionProvider']),
            )
        self.metadata = read_onnx_metadata(
            self.session.get_modelmeta().custom_metadata_map, path
        )
        self.in_channels = int(self.metadata['input_channels'])
        graph = self.session.get_inputs()[0].shape[1]
        if (
            graph != self.in_channels
            or len(self.metadata['band_order']) != self.in_channels
        ):
            raise OnnxMetadataError(
                f'{path}: the graph takes {graph} input channels but its '
                f'metadata says {self.in_channels} (band order '
                f'{self.metadata["band_order"]}); re-export it with '
                'tools/export_onnx.py'
            )
        self.classes: Optional[List[str]] = self.metadata['classes']

    @property
    def band_order(self) -> List[int]:
        """1-based image-file band of each input channel."""
        return list(self.metadata['band_order'])

    def describe(self) -> str:
        """One line: the file and the band order it expects."""
        return f'{self.path}: {describe_input(self.metadata)}'

    def __call__(self, img: np.ndarray) -> np.ndarray:
        """(N, C, H, W) raw pixels (bands in :attr:`band_order`) ->
        (N, num_classes, H, W) float32 logits.

        Raises:
            OnnxMetadataError: for another shape or channel count.
            OnnxModelError: onnxruntime failed to run the graph on it.
        """
        if img.ndim != 4 or img.shape[1] != self.in_channels:
            raise OnnxMetadataError(
                f'{self.path}: input of shape {tuple(img.shape)}, but the '
                f'model takes (N, {self.in_channels}, H, W): '
                f'{describe_input(self.metadata)}'
            )
        with _onnxruntime_errors(
            f'{self.path}: onnxruntime failed on a {tuple(img.shape)} input'
        ):
            return self.session.run(
                None, {'image': np.asarray(img, np.float32)}
            )[0]


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


def check_onnx(
    wrapper: nn.Module,
    path: str,
    in_channels: int,
    sizes: Sequence[Tuple[int, int]],
    repeats: int = 3,
    seed: int = 0,
) -> Dict[Tuple[int, int], dict]:
    """Compare an exported model with PyTorch on random images and time both.

    Returns:
        dict: per (H, W), ``max_abs_diff`` between the logits and median
        seconds per image over ``repeats`` runs after a warm-up, ``torch_s``
        and ``onnx_s`` (CPU; None with ``repeats=0``).

    Runs the file through :class:`OnnxSegmentor`, so its metadata is
    checked too.

    Raises:
        RuntimeError: onnxruntime fails at a size, or either side gives
            non-finite logits (a difference of NaN is no agreement).
        OnnxMetadataError: the file lacks the metadata.
    """
    runner = OnnxSegmentor(path)
    gen = torch.Generator().manual_seed(seed)
    results = {}
    for size in sizes:
        img = torch.rand(1, in_channels, *size, generator=gen) * 255
        feed = img.numpy()
        with torch.no_grad():
            expected = wrapper(img).numpy()
            try:
                got = runner(feed)
            except Exception as err:  # onnxruntime's own exception types
                raise RuntimeError(
                    f'{path} fails in onnxruntime at {tuple(size)}: {err} '
                    '(typically shape arithmetic traced as constants; '
                    'export with dynamic=False at the size to run)'
                ) from err
            torch_s = _median_time(lambda: wrapper(img), repeats)
            onnx_s = _median_time(lambda: runner(feed), repeats)
        if got.shape != expected.shape:
            raise RuntimeError(
                f'ONNX output shape {got.shape} differs '
                f'from PyTorch {expected.shape} at {size}'
            )
        for name, logits in (('PyTorch', expected), ('onnxruntime', got)):
            if not np.isfinite(logits).all():
                raise RuntimeError(
                    f'{name} gives non-finite logits at {tuple(size)} '
                    f'({int((~np.isfinite(logits)).sum())} values) on a '
                    'random image: the model or checkpoint is broken'
                )
        results[tuple(size)] = dict(
            max_abs_diff=float(np.abs(got - expected).max()),
            torch_s=torch_s,
            onnx_s=onnx_s,
        )
    return results
