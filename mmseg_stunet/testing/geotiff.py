"""Synthetic GeoTIFF scenes for the benchmarks and the tests: one
georeference, one profile, the whole image at once or random blocks
written in strips (memory flat in the scene size)."""

from typing import Any, Dict

import numpy as np

__all__ = [
    'GEO_CRS',
    'GEO_TRANSFORM',
    'geotiff_profile',
    'write_geotiff',
    'write_random_geotiff',
]

#: the georeference of the synthetic scenes: UTM 32N, 0.5 m pixels;
#: the transform as rasterio's ``from_origin(west, north, dx, dy)`` takes it
GEO_CRS = 'EPSG:32632'
GEO_TRANSFORM = (500000.0, 5300000.0, 0.5, 0.5)


def geotiff_profile(
    height: int,
    width: int,
    count: int,
    dtype: Any,
    georef: bool = True,
    **kw: Any,
) -> Dict[str, Any]:
    """``rasterio.open(path, 'w', **profile)`` arguments of a GTiff
    (with :data:`GEO_CRS` / :data:`GEO_TRANSFORM` unless ``georef`` is
    False; ``kw`` adds or overrides creation options: nodata, tiled,
    crs, transform, gcps, ...)."""
    from rasterio.transform import from_origin

    profile = dict(
        driver='GTiff', height=height, width=width, count=count, dtype=dtype
    )
    if georef:
        profile.update(crs=GEO_CRS, transform=from_origin(*GEO_TRANSFORM))
    profile.update(kw)
    return profile


def write_geotiff(path, img: np.ndarray, georef: bool = True, **kw) -> str:
    """Write ``img`` (C, H, W) as a GeoTIFF at ``path``
    (:func:`geotiff_profile`); returns ``path`` as a string."""
    import rasterio

    profile = geotiff_profile(
        *img.shape[1:], img.shape[0], img.dtype, georef, **kw
    )
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(img)
    return str(path)


def write_random_geotiff(
    path: str, height: int, width: int, seed: int = 0
) -> str:
    """A tiled, georeferenced 3-band uint8 GeoTIFF of random 16x16-pixel
    blocks, written in 256-row strips so that memory stays flat in the
    scene size: the benchmarks' scenes. Returns ``path``."""
    import rasterio
    from rasterio.windows import Window

    rng = np.random.RandomState(seed)
    profile = geotiff_profile(height, width, 3, 'uint8', tiled=True)
    with rasterio.open(path, 'w', **profile) as dst:
        for row in range(0, height, 256):
            h = min(256, height - row)
            coarse = rng.randint(0, 256, (3, h // 16 + 1, width // 16 + 1))
            strip = np.kron(coarse, np.ones((16, 16)))[:, :h, :width]
            dst.write(strip.astype(np.uint8), window=Window(0, row, width, h))
    return path
