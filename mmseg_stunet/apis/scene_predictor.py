"""Sliding-window prediction of whole scenes of any size.

MMSegmentation's ``MMSegInferencer`` and ``slide`` test mode load the whole
image and keep logits for the whole image, so memory grows with the scene.
:class:`ScenePredictor` instead reads one batch of windows at a time from
disk, runs the segmentor's ``encode_decode`` on it and writes the central
(core) part of each window's class map straight to the output file, so memory
is bounded by ``batch_size x window`` and not by the scene.
"""
import os
import os.path as osp
from contextlib import nullcontext
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import rasterio
import torch
import torch.nn as nn
from mmengine.utils import ProgressBar
from mmseg.structures import SegDataSample

from ..datasets.isprs import ISPRS_PALETTE
from ..utils.atomic import atomic_write
from .preview import draw_preview
from .raster_io import (GDAL_CACHE_MB, ClassMapWriter, SceneReader,
                        list_images)
from .tiling import Tile, scene_tiles

FLIP_DIMS = {'horizontal': -1, 'vertical': -2}


def model_in_channels(model: nn.Module) -> int:
    """Input channels of a segmentor: those of its backbone's first conv."""
    for module in model.backbone.modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
    raise ValueError(f'{type(model.backbone).__name__} has no Conv2d; '
                     'cannot tell how many input channels it expects')


def _pair(value: Union[int, Sequence[int]], name: str) -> Tuple[int, int]:
    """``a`` or ``[a]`` -> ``(a, a)``; ``(a, b)`` stays."""
    value = [value] if isinstance(value, int) else list(value)
    if len(value) not in (1, 2):
        raise ValueError(f'{name} takes one or two values, got {value}')
    return (value[0], value[-1])


class ScenePredictor:
    """Class-index maps and colour previews for scenes of any size.

    Args:
        model (nn.Module): an MMSegmentation segmentor in eval mode (e.g. from
            ``mmseg.apis.init_model``) with ``encode_decode`` and a
            ``data_preprocessor``.
        window (int | tuple[int, int]): window height and width in pixels.
        overlap (int | tuple[int, int]): minimum overlap of neighbouring
            windows. Each pixel is taken from the window in which it lies at
            least ``overlap // 2`` px from a window border (scene borders
            excepted), so a model whose receptive field radius is at most
            ``overlap // 2`` gives exactly its whole-image prediction.
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
        opacity (float): class-colour opacity in the preview.
        progress (bool): show a progress bar over windows.
    """

    def __init__(self,
                 model: nn.Module,
                 window: Union[int, Sequence[int]] = 512,
                 overlap: Union[int, Sequence[int]] = 128,
                 batch_size: int = 4,
                 flip: Sequence[str] = (),
                 bands: Optional[Sequence[int]] = None,
                 palette: Union[str, List[Sequence[int]]] = 'isprs',
                 preview: bool = True,
                 preview_size: int = 2048,
                 opacity: float = 0.5,
                 progress: bool = True):
        self.model = model.eval()
        self.window = _pair(window, 'window')
        self.overlap = _pair(overlap, 'overlap')
        for w, o in zip(self.window, self.overlap):
            if w < 1 or not 0 <= o < w:
                raise ValueError('need window >= 1 and 0 <= overlap < window,'
                                 f' got window={window}, overlap={overlap}')
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        unknown = set(flip) - set(FLIP_DIMS)
        if unknown:
            raise ValueError(f'unknown flip direction(s) {sorted(unknown)}; '
                             f'use {sorted(FLIP_DIMS)}')
        self.batch_size = batch_size
        self.flip = list(flip)
        self.bands = list(bands) if bands is not None else None
        self.in_channels = model_in_channels(model)
        self.num_classes = model.decode_head.num_classes
        if self.num_classes > 255:
            raise ValueError(f'{self.num_classes} classes do not fit the '
                             'uint8 class map')
        if palette == 'isprs':
            palette = ISPRS_PALETTE
        elif palette == 'model':
            palette = model.dataset_meta['palette']
        self.palette = self._full_palette(palette)
        self.preview = preview
        self.preview_size = preview_size
        self.opacity = opacity
        self.progress = progress

    @classmethod
    def from_config(cls, config: str, checkpoint: Optional[str] = None,
                    device: str = 'cpu', cfg_options: Optional[dict] = None,
                    **kwargs) -> 'ScenePredictor':
        """Build the model with ``mmseg.apis.init_model`` and wrap it."""
        from mmseg.apis import init_model
        for path in (config, checkpoint):
            if isinstance(path, str) and not osp.isfile(path):
                raise FileNotFoundError(f'file not found: {path}')
        model = init_model(config, checkpoint, device, cfg_options)
        return cls(model, **kwargs)

    def _full_palette(self, palette) -> List[Tuple[int, int, int]]:
        palette = [tuple(int(v) for v in c) for c in palette]
        rng = np.random.RandomState(42)  # extra classes: fixed random colours
        while len(palette) < self.num_classes:
            palette.append(tuple(int(v) for v in rng.randint(0, 256, 3)))
        return palette[:self.num_classes]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

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
        """(N, K, h, w) logits of raw (N, C, h, w) pixels through the model's
        ``data_preprocessor`` (which may pad right/bottom to its test size)
        and ``encode_decode``."""
        h, w = raw.shape[-2:]
        data = self.model.data_preprocessor(
            dict(inputs=list(raw), data_samples=[SegDataSample() for _ in raw]),
            False)
        inputs = data['inputs']
        pad_shape = tuple(inputs.shape[-2:])
        metas = [dict(img_shape=(h, w), pad_shape=pad_shape)] * len(inputs)
        return self.model.encode_decode(inputs, metas)[..., :h, :w]

    def predict(self, inputs: Union[str, Sequence[str]],
                out_dir: str) -> List[Dict[str, str]]:
        """Predict images and/or folders of images into ``out_dir``.

        Every input is opened and checked first (exists, readable, band
        count), so a bad file anywhere raises before anything is written.

        Returns:
            list[dict]: per image, ``classes`` (class-index map path) and,
            with ``preview``, ``preview`` (colour overlay path).
        """
        files = list_images([inputs] if isinstance(inputs, str) else inputs)
        for path in files:
            with SceneReader(path, self.bands, self.in_channels):
                pass
        names = [osp.splitext(osp.basename(p))[0] for p in files]
        if len(set(names)) != len(names):
            raise ValueError('inputs with the same name would overwrite each '
                             f'other in {out_dir}: {files}')
        real_inputs = {osp.realpath(p) for p in files}
        for stem in names:
            for suffix in ('.tif', '.png', '_preview.png'):
                out = osp.join(out_dir, stem + suffix)
                if osp.realpath(out) in real_inputs:
                    raise ValueError(f'output {out} would overwrite an input;'
                                     ' choose another out_dir')
        os.makedirs(out_dir, exist_ok=True)
        return [self.predict_scene(path, out_dir) for path in files]

    def output_paths(self, path: str, out_dir: str,
                     plain_image: bool) -> Dict[str, str]:
        stem = osp.splitext(osp.basename(path))[0]
        out = dict(classes=osp.join(out_dir,
                                    stem + ('.png' if plain_image else '.tif')))
        if self.preview:
            out['preview'] = osp.join(out_dir, stem + '_preview.png')
        return out

    def predict_scene(self, path: str, out_dir: str) -> Dict[str, str]:
        """Predict one scene window by window; see :meth:`predict`."""
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), \
                SceneReader(path, self.bands, self.in_channels) as reader:
            out = self.output_paths(path, out_dir, reader.is_plain_image)
            # Both files move into place when everything succeeded, the
            # preview after the class map.
            preview = atomic_write(out['preview']) if self.preview \
                else nullcontext()
            with preview as preview_tmp, \
                    atomic_write(out['classes']) as classes_tmp, \
                    ClassMapWriter(classes_tmp, reader,
                                   self.palette) as writer:
                self._predict_tiles(reader, writer)
                if self.preview:
                    self._write_preview(reader, writer, preview_tmp)
                writer.close()
        return out

    def _predict_tiles(self, reader: SceneReader, writer: ClassMapWriter):
        tiles = list(
            scene_tiles(reader.height, reader.width, self.window,
                        self.overlap))
        bar = ProgressBar(len(tiles)) if self.progress else None
        for i in range(0, len(tiles), self.batch_size):
            batch = tiles[i:i + self.batch_size]
            self._predict_batch(reader, writer, batch)
            if bar is not None:
                bar.update(len(batch))
        if bar is not None:
            print()

    def _predict_batch(self, reader: SceneReader, writer: ClassMapWriter,
                       tiles: List[Tile]):
        batch = np.stack([reader.read(t.read_window) for t in tiles])
        classes = self.predict_windows(batch).argmax(dim=1)
        classes = classes.to(torch.uint8).cpu().numpy()
        for tile, cls in zip(tiles, classes):
            writer.write(tile.core_window, cls[tile.core_slices])

    def _write_preview(self, reader: SceneReader, writer: ClassMapWriter,
                       path: str):
        scale = min(1.0, self.preview_size / max(reader.height, reader.width))
        shape = (max(1, round(reader.height * scale)),
                 max(1, round(reader.width * scale)))
        count = len(reader.bands)
        bands = reader.bands[:3] if count >= 3 else reader.bands[:1] * 3
        image = reader.read_overview(shape, bands)
        classes = writer.read_overview(shape)
        draw_preview(image, classes, self.palette, path, self.opacity)
