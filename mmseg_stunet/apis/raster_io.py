"""Windowed raster reading and atomic writing of class maps (rasterio).

Inputs are opened with rasterio, so GeoTIFFs (any band count and dtype) and
PNG/JPEG files go through the same windowed reads. GeoTIFF (or any raster
with georeferencing) in gives a tiled GeoTIFF out with the same CRS, transform
(or ground control points, and RPCs) and size, written window by window;
PNG/JPEG in gives a PNG out.
"""

import os
import os.path as osp
import warnings
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import MaskFlags, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.windows import Window

from .inference import feed_order

IMAGE_SUFFIXES = ('.tif', '.tiff', '.png', '.jpg', '.jpeg')
PLAIN_IMAGE_DRIVERS = ('PNG', 'JPEG')
# GDAL's block cache would otherwise grow to 5% of RAM with the scene size.
GDAL_CACHE_MB = 32
#: class value of pixels that are not classified (nodata) in the outputs
NODATA_CLASS = 255


class SceneReader:
    """Reads windows of one scene in the channel order a model was trained on.

    Args:
        path (str): raster file.
        bands (Sequence[int], optional): 1-based band indices to use, in this
            order. Defaults to all bands.
        in_channels (int, optional): channels the model expects; a different
            number of (selected) bands raises ``ValueError``.

        nodata (float, optional): pixel value that marks nodata when all
            selected bands have it, in addition to the file's own nodata
            value, mask or alpha band; NaN matches NaN pixels.

    A 3- or 4-band selection is handed over with its first three bands
    reversed (B, G, R for an RGB file, B, G, R, IR for Potsdam's RGBIR), as
    ``mmcv.imread`` and MMSegmentation's ``LoadImageFromFile`` give the
    converted tiles in training (:func:`~mmseg_stunet.utils.bands.
    loaded_order`); other band counts keep their order.

    A pixel is nodata (:meth:`valid_mask` False) where every selected band
    is masked by the file (its nodata value, internal mask or alpha band, as
    rasterio's ``read_masks`` reports them) or equals ``nodata``.
    """

    def __init__(
        self,
        path: str,
        bands: Optional[Sequence[int]] = None,
        in_channels: Optional[int] = None,
        nodata: Optional[float] = None,
    ):
        if not osp.isfile(path):
            raise FileNotFoundError(f'input image not found: {path}')
        try:
            with warnings.catch_warnings():  # PNG/JPEG carry no geo-reference
                warnings.simplefilter('ignore', NotGeoreferencedWarning)
                self._ds = rasterio.open(path)
        except RasterioIOError as err:
            raise OSError(
                f'cannot read {path} as a raster image: {err}'
            ) from err
        try:
            self.path = path
            count = self._ds.count
            if bands is None:
                bands = list(range(1, count + 1))
            bad = [b for b in bands if not 1 <= b <= count]
            if bad:
                raise ValueError(
                    f'{path} has {count} band(s); cannot select '
                    f'band(s) {bad} (1-based)'
                )
            self.bands = list(bands)
            if in_channels is not None and len(self.bands) != in_channels:
                raise ValueError(
                    f'{path} gives {len(self.bands)} band(s) but the model '
                    f'expects {in_channels} input channel(s); select bands '
                    f'with --bands'
                )
            self.order = feed_order(self.bands)
            self.nodata = nodata
            flags = [self._ds.mask_flag_enums[b - 1] for b in self.bands]
            self.file_masks = any(MaskFlags.all_valid not in f for f in flags)
        except Exception:
            self._ds.close()
            raise

    @property
    def height(self) -> int:
        return self._ds.height

    @property
    def width(self) -> int:
        return self._ds.width

    @property
    def is_plain_image(self) -> bool:
        """PNG/JPEG input: the output is a PNG rather than a GeoTIFF."""
        return self._ds.driver in PLAIN_IMAGE_DRIVERS

    @property
    def profile(self) -> dict:
        return self._ds.profile

    @property
    def georeference(self) -> dict:
        """The scene's georeferencing as ``rasterio.open`` takes it for
        writing: ``crs`` and ``transform``, or, for a scene placed by
        ground control points (no transform), ``gcps`` and their ``crs``;
        ``rpcs`` where the scene has rational polynomial coefficients."""
        ds = self._ds
        gcps, gcp_crs = ds.gcps
        if gcps and ds.transform.is_identity:
            georef = dict(gcps=gcps, crs=gcp_crs)
        else:
            georef = dict(crs=ds.crs, transform=ds.transform)
        if ds.rpcs:
            georef['rpcs'] = ds.rpcs
        return georef

    def read(self, window: Tuple[int, int, int, int]) -> np.ndarray:
        """Pixels of ``(col_off, row_off, width, height)`` as a (C, h, w)
        float32 array in model channel order."""
        try:
            data = self._ds.read(self.order, window=Window(*window))
        except RasterioIOError as err:
            raise OSError(
                f'cannot read window {window} of {self.path}: {err}'
            ) from err
        return data.astype(np.float32, copy=False)

    @property
    def dtype(self) -> str:
        """Data type of the selected bands (their common type if they
        differ)."""
        return str(
            np.result_type(*(self._ds.dtypes[b - 1] for b in self.bands))
        )

    def value_range(self, side: int = 512) -> Tuple[float, float]:
        """Smallest and largest finite value of the selected bands that is
        not masked as nodata, on a nearest-neighbour sample of at most
        ``side`` x ``side`` pixels (memory stays bounded); NaN, NaN if
        there is none."""
        scale = min(1.0, side / max(self.height, self.width))
        shape = (
            max(1, round(self.height * scale)),
            max(1, round(self.width * scale)),
        )
        try:
            data = self._ds.read(
                self.bands,
                masked=True,
                out_shape=(len(self.bands), *shape),
                resampling=Resampling.nearest,
            )
        except RasterioIOError as err:
            raise OSError(f'cannot read {self.path}: {err}') from err
        values = data.compressed()
        values = values[np.isfinite(values)]
        if not values.size:
            return float('nan'), float('nan')
        return float(values.min()), float(values.max())

    @property
    def has_nodata(self) -> bool:
        """Whether any pixel can be nodata (file mask or ``nodata``)."""
        return self.file_masks or self.nodata is not None

    def valid_mask(
        self, window: Tuple[int, int, int, int], pixels: np.ndarray
    ) -> Optional[np.ndarray]:
        """(h, w) bool, False where ``pixels`` (this window's :meth:`read`)
        are nodata; None when the scene has no nodata at all."""
        if not self.has_nodata:
            return None
        valid = np.zeros(pixels.shape[1:], bool)
        if self.file_masks:
            try:
                masks = self._ds.read_masks(self.order, window=Window(*window))
            except RasterioIOError as err:
                raise OSError(
                    f'cannot read the nodata mask of window '
                    f'{window} of {self.path}: {err}'
                ) from err
            valid |= (masks > 0).any(axis=0)
        else:
            valid[:] = True
        if self.nodata is not None:
            # NaN != NaN: a NaN nodata value marks the NaN pixels
            differs = (
                ~np.isnan(pixels)
                if np.isnan(self.nodata)
                else pixels != self.nodata
            )
            valid &= differs.any(axis=0)
        return valid

    def read_overview(
        self, shape: Tuple[int, int], bands: Sequence[int]
    ) -> np.ndarray:
        """The whole scene resampled (bilinear) to ``shape``, as (c, h, w)."""
        return self._ds.read(
            list(bands),
            out_shape=(len(bands), *shape),
            resampling=Resampling.bilinear,
        )

    def close(self) -> None:
        self._ds.close()

    def __enter__(self) -> 'SceneReader':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _staging_path(path: str) -> str:
    """Where a Cloud-Optimised GeoTIFF is written window by window before
    GDAL's COG driver (which only copies whole files) lays it out."""
    head, tail = osp.split(path)
    return osp.join(head, f'.{tail}.staging.tif')


def _tiled_profile(reader: SceneReader, **kw) -> dict:
    """GTiff profile of a tiled (256 x 256), deflate-compressed output with
    the reader's size and georeference."""
    return dict(
        driver='GTiff',
        height=reader.height,
        width=reader.width,
        compress='deflate',
        tiled=True,
        blockxsize=256,
        blockysize=256,
        **reader.georeference,
        **kw,
    )


def copy_to_cog(src: str, dst: str, resampling: str = 'NEAREST') -> None:
    """Lay the tiled GeoTIFF ``src`` out as a Cloud-Optimised GeoTIFF at
    ``dst`` with GDAL's COG driver: 256 x 256 deflate tiles, internal
    overviews (halving until they fit one tile) resampled with
    ``resampling`` (``NEAREST`` for class maps, ``AVERAGE`` for
    probabilities), the georeference, nodata, colour table and mask of
    ``src``. GDAL reads ``src`` block by block: memory does not grow with
    the scene."""
    with warnings.catch_warnings():  # a scene without georeference
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        rasterio.shutil.copy(
            src,
            dst,
            driver='COG',
            compress='DEFLATE',
            blocksize=256,
            overview_resampling=resampling,
            bigtiff='IF_SAFER',
        )


class ClassMapWriter:
    """Collects a class-index map window by window into ``path``.

    GeoTIFF output is a tiled, deflate-compressed uint8 GeoTIFF with the
    reference's size and georeferencing (:attr:`SceneReader.georeference`: CRS
    and transform, or ground control points, and RPCs), written directly to
    disk window by window (memory bounded by the window), carrying the palette
    as its colour table and declaring ``nodata`` (pixels that were not
    classified). PNG output keeps the (uint8, one byte per pixel) map in memory
    and encodes it in :meth:`close`.

    Write through :func:`mmseg_stunet.utils.atomic.atomic_write` for an
    all-or-nothing file: ``with atomic_write(out) as tmp, ClassMapWriter(tmp,
    ...) as writer: ...; writer.close()``. Leaving the context without
    :meth:`close` releases the file without finishing it.

    With ``cog``, a GeoTIFF output is a Cloud-Optimised GeoTIFF
    (:func:`copy_to_cog`, overviews by nearest neighbour): the map is
    written window by window to a hidden staging file beside ``path``,
    which :meth:`close` lays out as a COG at ``path`` and removes.
    """

    def __init__(
        self,
        path: str,
        reader: SceneReader,
        palette: Optional[List[Sequence[int]]] = None,
        nodata: int = NODATA_CLASS,
        cog: bool = False,
    ):
        self.path = path
        self.png = path.lower().endswith('.png')
        self.nodata = nodata
        self.cog = cog and not self.png
        self._palette = palette
        self._ds = None
        self._array = None
        if self.png:
            self._array = np.full(
                (reader.height, reader.width), nodata, np.uint8
            )
        else:
            profile = _tiled_profile(
                reader, count=1, dtype='uint8', nodata=nodata
            )
            with warnings.catch_warnings():  # a scene without georeference
                warnings.simplefilter('ignore', NotGeoreferencedWarning)
                self._ds = rasterio.open(
                    _staging_path(path) if self.cog else path, 'w+', **profile
                )

    def write(
        self, window: Tuple[int, int, int, int], classes: np.ndarray
    ) -> None:
        """Store (h, w) class indices at ``(col_off, row_off, width,
        height)``."""
        col, row, width, height = window
        if self.png:
            self._array[row : row + height, col : col + width] = classes
        else:
            self._ds.write(
                classes.astype(np.uint8),
                1,
                window=Window(col, row, width, height),
            )

    def close(self) -> None:
        """Finish the file: colour table and close (GeoTIFF) or encode
        (PNG)."""
        if self.png:
            if not cv2.imwrite(self.path, self._array):
                raise OSError(f'could not write {self.path}')
        else:
            if self._palette is not None:
                self._ds.write_colormap(
                    1,
                    {
                        i: tuple(int(v) for v in rgb) + (255,)
                        for i, rgb in enumerate(self._palette)
                    },
                )
            self._ds.close()
            if self.cog:
                try:
                    copy_to_cog(self._ds.name, self.path, 'NEAREST')
                finally:
                    os.remove(self._ds.name)

    def read_overview(self, shape: Tuple[int, int]) -> np.ndarray:
        """The class map resampled (nearest) to ``shape``; call before
        :meth:`close` for a GeoTIFF."""
        if self.png:
            return cv2.resize(
                self._array, shape[::-1], interpolation=cv2.INTER_NEAREST
            )
        return self._ds.read(1, out_shape=shape, resampling=Resampling.nearest)

    def __enter__(self) -> 'ClassMapWriter':
        return self

    def __exit__(self, *exc) -> None:
        if self._ds is not None and not self._ds.closed:
            self._ds.close()
            if self.cog and osp.exists(self._ds.name):
                os.remove(self._ds.name)


class ProbabilityWriter:
    """Per-class probabilities of a scene, window by window, into the
    GeoTIFF ``path``: band ``k + 1`` holds ``round(255 * p_k)`` (uint8) of
    class ``k``, where ``p`` is the softmax of the logits (or the mean
    softmax over flips); same size and georeference as the reader, tiled
    and deflate-compressed, memory bounded by the window. Where the scene
    has nodata (:attr:`SceneReader.has_nodata`) the file carries an
    internal mask (rasterio ``read_masks``: 0 at nodata pixels, whose bands
    are 0). With ``cog`` it is laid out as a Cloud-Optimised GeoTIFF in
    :meth:`close` (overviews averaged). Used like :class:`ClassMapWriter`.
    """

    def __init__(
        self,
        path: str,
        reader: SceneReader,
        num_classes: int,
        cog: bool = False,
    ):
        self.path = path
        self.cog = cog
        self.masked = reader.has_nodata
        profile = _tiled_profile(
            reader, count=num_classes, dtype='uint8', interleave='pixel'
        )
        with warnings.catch_warnings():  # a scene without georeference
            warnings.simplefilter('ignore', NotGeoreferencedWarning)
            self._ds = rasterio.open(
                _staging_path(path) if cog else path, 'w+', **profile
            )

    def write(
        self,
        window: Tuple[int, int, int, int],
        probs: np.ndarray,
        valid: Optional[np.ndarray] = None,
    ) -> None:
        """Store (K, h, w) probabilities in [0, 1] at ``(col_off, row_off,
        width, height)``; ``valid`` (h, w) is False at nodata pixels."""
        scaled = np.rint(np.clip(probs, 0, 1) * 255).astype(np.uint8)
        win = Window(*window)
        if valid is not None:
            scaled[:, ~valid] = 0
        self._ds.write(scaled, window=win)
        if self.masked:
            mask = (
                np.full(scaled.shape[1:], 255, np.uint8)
                if valid is None
                else valid.astype(np.uint8) * 255
            )
            self._ds.write_mask(mask, window=win)

    def close(self) -> None:
        self._ds.close()
        if self.cog:
            try:
                copy_to_cog(self._ds.name, self.path, 'AVERAGE')
            finally:
                os.remove(self._ds.name)

    def __enter__(self) -> 'ProbabilityWriter':
        return self

    def __exit__(self, *exc) -> None:
        if not self._ds.closed:
            self._ds.close()
            if self.cog and osp.exists(self._ds.name):
                os.remove(self._ds.name)


def list_images(inputs: Sequence[str]) -> List[str]:
    """Expand files and folders (their images, sorted, not recursive)."""
    files = []
    for item in inputs:
        if osp.isdir(item):
            found = sorted(
                osp.join(item, name)
                for name in os.listdir(item)
                if name.lower().endswith(IMAGE_SUFFIXES)
                and not name.startswith('.')
            )
            if not found:
                raise FileNotFoundError(
                    f'no {"/".join(IMAGE_SUFFIXES)} images in folder {item}'
                )
            files.extend(found)
        elif osp.isfile(item):
            files.append(item)
        else:
            raise FileNotFoundError(f'input not found: {item}')
    return files
