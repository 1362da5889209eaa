"""Sliding-window prediction of whole scenes of any size.

MMSegmentation's ``MMSegInferencer`` and ``slide`` test mode load the whole
image and keep logits for the whole image, so memory grows with the scene.
Its remote-sensing ``RSInferencer`` (``mmseg/apis/remote_sense_inferencer.py``)
reads windows through GDAL's Python bindings (``osgeo``, not installable from
PyPI wheels), writes each window's full prediction so that overlapping
windows overwrite each other's borders, ignores nodata and has no
test-time flips. :class:`ScenePredictor` reads one batch of windows at a
time through rasterio (a wheel), runs the segmentor's ``encode_decode`` on it
and writes only the central (core) part of each window's class map (the
overlap-tile strategy: every pixel comes from the window where it lies
farthest from a border) straight to the output file, so memory is bounded by
``batch_size x window`` and not by the scene; nodata pixels are left out and
written as nodata, windows of nodata only are skipped.
"""

import inspect
import os
import os.path as osp
import warnings
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import rasterio
import torch
import torch.nn as nn
from mmengine.utils import ProgressBar

from ..datasets.isprs import ISPRS_PALETTE
from ..utils.atomic import atomic_write
from ..utils.paths import check_outputs
from .backends import OnnxBackend, SegmentorBackend, make_backend
from .batch_predict import expand_inputs, input_roots
from .inference import init_segmentor
from .preview import draw_preview
from .raster_io import (
    GDAL_CACHE_MB,
    NODATA_CLASS,
    ClassMapWriter,
    ProbabilityWriter,
    SceneReader,
)
from .tiling import Tile, scene_tiles

FLIP_DIMS = {'horizontal': -1, 'vertical': -2}


def _pair(value: Union[int, Sequence[int]], name: str) -> Tuple[int, int]:
    """``a`` or ``[a]`` -> ``(a, a)``; ``(a, b)`` stays."""
    value = [value] if isinstance(value, int) else list(value)
    if len(value) not in (1, 2):
        raise ValueError(f'{name} takes one or two values, got {value}')
    return (value[0], value[-1])


def _option(name: str) -> str:
    """``window (--window)``: how an error names an option, for the Python
    API and for tools/predict.py alike."""
    return f'{name} (--{name.replace("_", "-")})'


def _check_window(
    window: Tuple[int, int], overlap: Optional[Tuple[int, int]]
) -> None:
    for i, w in enumerate(window):
        if w < 1:
            raise ValueError(
                f'{_option("window")} must be >= 1 pixel, got {window}'
            )
        if overlap is not None and not 0 <= overlap[i] < w:
            raise ValueError(
                f'{_option("overlap")} must be >= 0 and less '
                f'than the window {window}, got {overlap}'
            )


def check_options(
    window: Optional[Union[int, Sequence[int]]] = None,
    overlap: Optional[Union[int, Sequence[int]]] = None,
    batch_size: int = 4,
    flip: Sequence[str] = (),
    bands: Optional[Sequence[int]] = None,
    opacity: float = 0.5,
    preview_size: int = 2048,
) -> None:
    """Refuse (one-line ``ValueError`` naming the option) the
    :class:`ScenePredictor` options that cannot work whatever the model:
    :meth:`ScenePredictor.from_config` checks them before it builds the
    model and loads the checkpoint, ``__init__`` again (with the model's
    default window, and ``bands`` and the palette against the model)."""
    if window is not None:
        _check_window(
            _pair(window, 'window'),
            None if overlap is None else _pair(overlap, 'overlap'),
        )
    elif overlap is not None and min(_pair(overlap, 'overlap')) < 0:
        raise ValueError(f'{_option("overlap")} must be >= 0, got {overlap}')
    if batch_size < 1:
        raise ValueError(
            f'{_option("batch_size")} must be >= 1, got {batch_size}'
        )
    unknown = set(flip) - set(FLIP_DIMS)
    if unknown:
        raise ValueError(
            f'unknown flip direction(s) {sorted(unknown)}; '
            f'use {sorted(FLIP_DIMS)}'
        )
    if not 0 <= opacity <= 1:
        raise ValueError(
            f'{_option("opacity")} must be in [0, 1], got {opacity}'
        )
    if preview_size < 1:
        raise ValueError(
            f'{_option("preview_size")} must be >= 1 pixel, got {preview_size}'
        )
    if bands is not None and (not list(bands) or any(b < 1 for b in bands)):
        raise ValueError(
            f'{_option("bands")} are 1-based band numbers, got {list(bands)}'
        )


def check_palette(
    palette: Sequence[Sequence[int]], num_classes: int, source: str
) -> List[Tuple[int, int, int]]:
    """``palette`` as RGB tuples, refused (``ValueError`` naming the option
    and the first bad colour) unless every colour is 3 integers in 0..255
    and there is one per class: a short palette would colour the missing
    classes at random, a long one belongs to another class list."""
    colours = []
    for i, colour in enumerate(palette):
        values = (
            list(colour)
            if isinstance(colour, (list, tuple, np.ndarray))
            else None
        )
        if (
            values is None
            or len(values) != 3
            or not all(
                isinstance(v, (int, np.integer)) and 0 <= v <= 255
                for v in values
            )
        ):
            raise ValueError(
                f'{_option("palette")} {source}: colour {i} is '
                f'{colour!r}; each colour must be 3 integers '
                'R, G, B in 0..255'
            )
        colours.append(tuple(int(v) for v in values))
    if len(colours) != num_classes:
        raise ValueError(
            f'{_option("palette")} {source}: {len(colours)} '
            f'colour(s) for a model of {num_classes} classes; '
            'give one colour per class'
        )
    return colours


class ScenePredictor:
    """Class-index maps and colour previews for scenes of any size.

    Args:
        model (nn.Module | SegmentorBackend): an MMSegmentation segmentor in
            eval mode (e.g. from ``mmseg.apis.init_model``) with
            ``encode_decode`` and a ``data_preprocessor``, or a back-end
            (:mod:`~.backends`: an ONNX file in onnxruntime,
            :meth:`from_onnx`); tiling, nodata, flips and writing are the
            same for both.
        window (int | tuple[int, int], optional): window height and width in
            pixels. Default: what the model is evaluated with
            (:func:`~.inference.default_window`: the ``slide`` crop of its
            ``test_cfg``, else its training crop), 512 if its config states
            neither. Models with global context (ST-UNet's SIM and RAM,
            DeepLabV3+'s image pooling) predict differently in windows of
            another size.
        overlap (int | tuple[int, int], optional): minimum overlap of
            neighbouring windows. Each pixel is taken from the window in
            which it lies at least ``overlap // 2`` px from a window border
            (scene borders excepted), so a model whose receptive field radius
            is at most ``overlap // 2`` gives exactly its whole-image
            prediction. Default: the ``slide`` crop minus its stride, 0 for
            a training crop, 128 with the 512 fallback.
        batch_size (int): windows per forward pass.
        flip (Sequence[str]): test-time flips, any of ``'horizontal'``,
            ``'vertical'``; softmax scores of the original and flipped
            windows are averaged, as in MMSegmentation's ``SegTTAModel``.
        bands (Sequence[int], optional): 1-based input bands to use.
        palette (str | list): RGB colour per class, for the GeoTIFF colour
            table and the preview: a list, ``'isprs'`` (default) or
            ``'model'`` (the model's ``dataset_meta``).
        preview (bool): also write ``<name>_preview.png``, the class map over
            the image, drawn by ``SegLocalVisualizer``.
        preview_size (int): longest side of the preview; the scene is
            resampled to fit, keeping memory bounded.
        opacity (float): class-colour opacity in the preview, in [0, 1].
        progress (bool): show a progress bar over windows.
        nodata (float, optional): pixel value that marks nodata when every
            selected band has it, besides each file's own nodata value, mask
            or alpha band (which are always honoured); NaN marks NaN pixels.
        allow_dtype (bool): predict scenes whose pixels are not uint8 with a
            model whose normalisation is for 8-bit input
            (:func:`~.inference.expects_8bit`), with a warning per scene.
            Default: such a scene is refused (:meth:`predict` raises
            ``ValueError`` naming the file, its dtype and value range),
            since pixels on another scale (uint16, reflectance) give other
            classes than the model was trained to (issue 19: 31 % of the
            pixels of a uint16 scene changed class, without a word).
        cog (bool): write GeoTIFF class maps (and probabilities) as
            Cloud-Optimised GeoTIFFs (:func:`~.raster_io.copy_to_cog`:
            tiled, deflate, internal overviews).
        probabilities (bool): also write ``<name>_probabilities.tif``
            (:class:`~.raster_io.ProbabilityWriter`): per class, uint8
            ``round(255 * softmax)`` of the logits (the mean softmax over
            ``flip``), georeferenced like the class map, nodata masked.

    Options that cannot work (``opacity`` outside [0, 1], ``preview_size``,
    ``window`` or ``batch_size`` below 1, ``overlap`` not below the window,
    ``bands`` not 1-based or not one per input channel, a palette colour
    that is not 3 integers in 0..255 or a palette that is not one colour per
    class) raise a one-line ``ValueError`` naming the option here, before
    any file is read.

    Nodata pixels are not classified: they are written as
    :data:`~.raster_io.NODATA_CLASS` (255, declared as the GeoTIFF's nodata
    value); windows of nodata only are skipped; in the other windows nodata
    pixels are filled with the data preprocessor's mean
    (:func:`~.inference.neutral_pixel`), which the network sees as zero
    input, like padding. Non-finite logits raise ``FloatingPointError``
    naming the window. Where a scene declares no nodata but a sizeable part
    of it is 0 in every band, a warning suggests ``nodata=0``.
    """

    def __init__(
        self,
        model: Union[nn.Module, SegmentorBackend],
        window: Optional[Union[int, Sequence[int]]] = None,
        overlap: Optional[Union[int, Sequence[int]]] = None,
        batch_size: int = 4,
        flip: Sequence[str] = (),
        bands: Optional[Sequence[int]] = None,
        palette: Union[str, List[Sequence[int]]] = 'isprs',
        preview: bool = True,
        preview_size: int = 2048,
        opacity: float = 0.5,
        progress: bool = True,
        nodata: Optional[float] = None,
        allow_dtype: bool = False,
        cog: bool = False,
        probabilities: bool = False,
    ):
        check_options(
            window=window,
            overlap=overlap,
            batch_size=batch_size,
            flip=flip,
            bands=bands,
            opacity=opacity,
            preview_size=preview_size,
        )
        self.backend = make_backend(model)
        #: the segmentor (None for another back-end)
        self.model = getattr(self.backend, 'model', None)
        from_model = self.backend.default_window or ((512, 512), (128, 128))
        self.window = (
            _pair(window, 'window') if window is not None else from_model[0]
        )
        if overlap is not None:
            self.overlap = _pair(overlap, 'overlap')
        else:
            self.overlap = from_model[1] if window is None else (0, 0)
        _check_window(self.window, self.overlap)  # the model's default too
        self.backend.check_window(self.window)  # a static ONNX graph's
        self.batch_size = batch_size
        self.flip = list(flip)
        self.in_channels = self.backend.in_channels
        if bands is not None:
            bands = list(bands)
            if len(bands) != self.in_channels:
                raise ValueError(
                    f'{_option("bands")} selects {len(bands)} band(s) but '
                    f'{self.backend.source} expects {self.in_channels} '
                    'input channel(s)'
                )
        else:  # an ONNX file's own band order, where it is not the default
            bands = getattr(self.backend, 'bands', None)
        self.bands = bands
        self.num_classes = self.backend.num_classes
        if self.num_classes > 255:
            raise ValueError(
                f'{self.num_classes} classes do not fit the uint8 class map'
            )
        if isinstance(palette, str):
            self.palette = self._named_palette(palette)
        else:
            self.palette = check_palette(palette, self.num_classes, 'as given')
        self.preview = preview
        self.preview_size = preview_size
        self.opacity = opacity
        self.progress = progress
        self.nodata = nodata
        self.fill = self.backend.fill
        self.expects = self.backend.expects
        self.allow_dtype = allow_dtype
        self.cog = cog
        self.probabilities = probabilities
        self._prob_writer: Optional[ProbabilityWriter] = None

    @classmethod
    def from_config(
        cls,
        config: str,
        checkpoint: Optional[str] = None,
        device: str = 'cpu',
        cfg_options: Optional[dict] = None,
        allow_partial: bool = False,
        **kwargs,
    ) -> 'ScenePredictor':
        """Build the model with :func:`~.inference.init_segmentor` (the
        checkpoint must fit it unless ``allow_partial``) and wrap it; options
        that cannot work (:func:`check_options`) are refused first."""
        for path in (config, checkpoint):
            if isinstance(path, str) and not osp.isfile(path):
                raise FileNotFoundError(f'file not found: {path}')
        check_options(
            **{
                k: v
                for k, v in kwargs.items()
                if k in inspect.signature(check_options).parameters
            }
        )  # before the model is built and the checkpoint read
        model = init_segmentor(
            config, checkpoint, device, cfg_options, allow_partial
        )
        return cls(model, **kwargs)

    @classmethod
    def from_onnx(
        cls,
        path: str,
        device: str = 'cpu',
        threads: Optional[int] = None,
        optimization: str = 'all',
        **kwargs,
    ) -> 'ScenePredictor':
        """Predict with an ONNX file from ``tools/export_onnx.py`` in
        onnxruntime (:class:`~.backends.OnnxBackend`: its metadata gives the
        band order, normalisation, classes, palette and default window);
        options that cannot work are refused before the file is loaded."""
        if not osp.isfile(path):
            raise FileNotFoundError(f'file not found: {path}')
        check_options(
            **{
                k: v
                for k, v in kwargs.items()
                if k in inspect.signature(check_options).parameters
            }
        )
        return cls(OnnxBackend(path, device, threads, optimization), **kwargs)

    def _named_palette(self, name: str) -> List[Tuple[int, int, int]]:
        """``'isprs'``: the ISPRS colours, fixed random ones for classes
        beyond them; ``'model'``: the checkpoint's ``dataset_meta``
        palette, which must fit (:func:`check_palette`)."""
        if name == 'model':
            meta = self.backend.dataset_meta
            onnx = isinstance(self.backend, OnnxBackend)
            if 'palette' not in meta:
                raise ValueError(
                    f'{self.backend.source}: ONNX metadata palette is null; '
                    'use the ISPRS palette or give one'
                    if onnx
                    else 'the model carries no dataset_meta palette (its '
                    'checkpoint has none); use the ISPRS palette or give one'
                )
            return check_palette(
                meta['palette'],
                self.num_classes,
                'from the ONNX metadata palette'
                if onnx
                else "from the model's dataset_meta",
            )
        if name != 'isprs':
            raise ValueError(
                f"{_option('palette')} must be 'isprs', "
                f"'model' or a list of colours, got {name!r}"
            )
        palette = [tuple(int(v) for v in c) for c in ISPRS_PALETTE]
        rng = np.random.RandomState(42)  # extra classes: fixed random colours
        while len(palette) < self.num_classes:
            palette.append(tuple(int(v) for v in rng.randint(0, 256, 3)))
        return palette[: self.num_classes]

    @property
    def device(self) -> torch.device:
        return self.backend.device

    @torch.no_grad()
    def predict_windows(self, windows: np.ndarray) -> torch.Tensor:
        """Class scores for a batch of equal-size windows.

        Args:
            windows (np.ndarray): (N, C, h, w) pixels in model channel order
                (as :class:`SceneReader` gives them), not normalised.

        Returns:
            torch.Tensor: (N, K, h, w) logits, or softmax scores averaged over
            the flips when ``flip`` is set.
        """
        raw = torch.from_numpy(windows)
        if not self.flip:
            return self._logits(raw)
        scores = self._logits(raw).softmax(dim=1)
        for direction in self.flip:
            dim = FLIP_DIMS[direction]
            scores += self._logits(raw.flip(dim)).flip(dim).softmax(dim=1)
        return scores / (1 + len(self.flip))

    def _logits(self, raw: torch.Tensor) -> torch.Tensor:
        """(N, K, h, w) logits of raw (N, C, h, w) pixels from the back-end
        (:meth:`~.backends.SegmentorBackend.logits`)."""
        return self.backend.logits(raw)

    def predict(
        self, inputs: Union[str, Sequence[str]], out_dir: str
    ) -> List[Dict[str, str]]:
        """Predict images, folders of images, glob patterns and ``@LIST``
        files (:func:`~.batch_predict.expand_inputs`) into ``out_dir``.

        Every input is opened and checked first (exists, readable, band
        count, dtype: :meth:`check_dtype`), so a bad file anywhere raises
        before anything is written; so are outputs that would be an input
        or lie inside an input folder (:func:`~.batch_predict.input_roots`).

        Returns:
            list[dict]: per image, ``classes`` (class-index map path) and,
            with ``preview``, ``preview`` (colour overlay path).
        """
        items = [inputs] if isinstance(inputs, str) else list(inputs)
        files = expand_inputs(items)
        for path in files:
            with SceneReader(
                path, self.bands, self.in_channels, self.nodata
            ) as reader:
                self.check_dtype(reader)
        names = [osp.splitext(osp.basename(p))[0] for p in files]
        if len(set(names)) != len(names):
            raise ValueError(
                'inputs with the same name would overwrite each '
                f'other in {out_dir}: {files}'
            )
        outputs = [
            ('output', osp.join(out_dir, stem + suffix))
            for stem in names
            for suffix in (
                '.tif',
                '.png',
                '_preview.png',
                '_probabilities.tif',
            )
        ]
        check_outputs(
            [('out_dir', out_dir)] + outputs,
            [('input', p) for p in [*input_roots(items), *files]],
            distinct=False,
        )
        os.makedirs(out_dir, exist_ok=True)
        return [self.predict_scene(path, out_dir) for path in files]

    def check_dtype(self, reader: SceneReader) -> Optional[str]:
        """Refuse a scene that is not uint8 when the model's normalisation
        is for 8-bit input (``ValueError``: ``'<file>: uint16 pixels
        (values 0..3999), but the model expects 8-bit input (...); ...'``);
        with ``allow_dtype`` return that line as a warning to give. None
        when they fit or the model says nothing about its input scale."""
        if self.expects is None or reader.dtype == 'uint8':
            return None
        lo, hi = reader.value_range()
        mismatch = (
            f'{reader.path}: {reader.dtype} pixels (values {lo:g}..'
            f'{hi:g}), but the model expects {self.expects}'
        )
        if not self.allow_dtype:
            raise ValueError(
                f'{mismatch}; rescale the scene to 0..255, or pass '
                'allow_dtype=True (--allow-dtype) to predict it as it is'
            )
        return (
            f'{mismatch}; predicted as it is (--allow-dtype): the '
            'classes may be wrong'
        )

    def output_paths(
        self, path: str, out_dir: str, plain_image: bool
    ) -> Dict[str, str]:
        stem = osp.splitext(osp.basename(path))[0]
        out = dict(
            classes=osp.join(
                out_dir, stem + ('.png' if plain_image else '.tif')
            )
        )
        if self.preview:
            out['preview'] = osp.join(out_dir, stem + '_preview.png')
        if self.probabilities:
            out['probabilities'] = osp.join(
                out_dir, stem + '_probabilities.tif'
            )
        return out

    def predict_scene(
        self,
        path: str,
        out_dir: str,
        on_batch: Optional[Callable[[int], None]] = None,
    ) -> Dict[str, str]:
        """Predict one scene window by window; see :meth:`predict`.
        ``on_batch(pixels)`` is called after each batch with the count of
        output pixels it wrote (progress over ranks, see
        :mod:`.batch_predict`)."""
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), SceneReader(
            path, self.bands, self.in_channels, self.nodata
        ) as reader:
            out = self.output_paths(path, out_dir, reader.is_plain_image)
            mismatch = self.check_dtype(reader)
            if mismatch:
                warnings.warn(mismatch)
            # Both files move into place when everything succeeded, the
            # preview after the class map.
            preview = (
                atomic_write(out['preview']) if self.preview else nullcontext()
            )
            probs = (
                atomic_write(out['probabilities'])
                if self.probabilities
                else nullcontext()
            )
            with preview as preview_tmp, probs as probs_tmp, atomic_write(
                out['classes']
            ) as classes_tmp, ClassMapWriter(
                classes_tmp, reader, self.palette, cog=self.cog
            ) as writer, (
                ProbabilityWriter(
                    probs_tmp, reader, self.num_classes, self.cog
                )
                if self.probabilities
                else nullcontext()
            ) as self._prob_writer:
                zeros = self._predict_tiles(reader, writer, on_batch=on_batch)
                if self.preview:
                    self._write_preview(reader, writer, preview_tmp)
                writer.close()
                if self._prob_writer is not None:
                    self._prob_writer.close()
            self._prob_writer = None  # a row band (batch_predict) has none
        share = zeros / (reader.height * reader.width)
        if share >= 0.01:
            warnings.warn(
                f'{path}: {share:.0%} of the pixels are 0 in every band and '
                'were classified, since the file declares no nodata; if they '
                'are nodata, pass nodata=0 (--nodata 0)'
            )
        return out

    def _predict_tiles(
        self,
        reader: SceneReader,
        writer: ClassMapWriter,
        tiles: Optional[List[Tile]] = None,
        on_batch: Optional[Callable[[int], None]] = None,
    ) -> int:
        """Predict every window (or ``tiles``, a run of the scene's tiles
        that starts at a multiple of ``batch_size``: a row band, whose
        batches are then those of the whole scene); returns the count of
        pixels that are 0 in every band where the scene declares no nodata
        (else 0)."""
        if tiles is None:
            tiles = self.tiles(reader.height, reader.width)
        bar = ProgressBar(len(tiles)) if self.progress else None
        zeros = 0
        for i in range(0, len(tiles), self.batch_size):
            batch = tiles[i : i + self.batch_size]
            zeros += self._predict_batch(reader, writer, batch)
            if on_batch is not None:
                on_batch(
                    sum(t.core_window[2] * t.core_window[3] for t in batch)
                )
            if bar is not None:
                bar.update(len(batch))
        if bar is not None:
            print()
        return zeros

    def tiles(self, height: int, width: int) -> List[Tile]:
        """The windows of a ``height x width`` scene, row-major
        (:func:`~.tiling.scene_tiles` with this predictor's window and
        overlap); batches are runs of ``batch_size`` of them."""
        return list(scene_tiles(height, width, self.window, self.overlap))

    def _predict_batch(
        self, reader: SceneReader, writer: ClassMapWriter, tiles: List[Tile]
    ) -> int:
        pixels, masks, todo = [], [], []
        zeros = 0
        for tile in tiles:
            window = reader.read(tile.read_window)
            valid = reader.valid_mask(tile.read_window, window)
            if valid is None:
                zeros += int(
                    (window[:, tile.core_slices[0], tile.core_slices[1]] == 0)
                    .all(0)
                    .sum()
                )
            elif not valid[tile.core_slices].any():
                writer.write(
                    tile.core_window,
                    np.full(
                        valid[tile.core_slices].shape, NODATA_CLASS, np.uint8
                    ),
                )
                if self._prob_writer is not None:
                    core = valid[tile.core_slices]
                    self._prob_writer.write(
                        tile.core_window,
                        np.zeros((self.num_classes, *core.shape)),
                        core,
                    )
                continue  # nodata only: nothing to classify
            elif not valid.all():
                window[:, ~valid] = self.fill[:, None]
            pixels.append(window)
            masks.append(valid)
            todo.append(tile)
        if not todo:
            return zeros
        scores = self.predict_windows(np.stack(pixels))
        if not torch.isfinite(scores).all():
            bad = [
                t.read_window
                for t, sc in zip(todo, scores)
                if not torch.isfinite(sc).all()
            ]
            raise FloatingPointError(
                f'{reader.path}: the model gave non-finite scores in window(s) '
                f'{bad} (col, row, width, height); the input may be far from '
                'the training data, or the checkpoint broken'
            )
        classes = scores.argmax(dim=1).to(torch.uint8).cpu().numpy()
        for tile, cls, valid in zip(todo, classes, masks):
            if valid is not None:
                cls[~valid] = NODATA_CLASS
            writer.write(tile.core_window, cls[tile.core_slices])
        if self._prob_writer is not None:
            probs = scores if self.flip else scores.softmax(dim=1)
            for tile, prob, valid in zip(todo, probs.cpu().numpy(), masks):
                self._prob_writer.write(
                    tile.core_window,
                    prob[(slice(None),) + tile.core_slices],
                    None if valid is None else valid[tile.core_slices],
                )
        return zeros

    def _write_preview(
        self, reader: SceneReader, writer: ClassMapWriter, path: str
    ) -> None:
        scale = min(1.0, self.preview_size / max(reader.height, reader.width))
        shape = (
            max(1, round(reader.height * scale)),
            max(1, round(reader.width * scale)),
        )
        count = len(reader.bands)
        bands = reader.bands[:3] if count >= 3 else reader.bands[:1] * 3
        image = reader.read_overview(shape, bands)
        classes = writer.read_overview(shape)
        draw_preview(image, classes, self.palette, path, self.opacity)
