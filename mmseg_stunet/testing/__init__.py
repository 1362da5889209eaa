"""Synthetic ISPRS archives, scenes and GeoTIFFs for the demo, the
benchmarks and the tests (nothing here is registered or imported by ``mmseg_stunet``; the
tests' own helpers live in ``tests/helpers.py``)."""

from .geotiff import (
    GEO_CRS,
    GEO_TRANSFORM,
    geotiff_profile,
    write_geotiff,
    write_random_geotiff,
)
from .synthetic_isprs import (
    colour_label,
    erode_label,
    make_scene,
    smooth_scene,
    write_potsdam_archives,
    write_vaihingen_archives,
)

__all__ = [
    'GEO_CRS',
    'GEO_TRANSFORM',
    'colour_label',
    'erode_label',
    'geotiff_profile',
    'make_scene',
    'smooth_scene',
    'write_geotiff',
    'write_potsdam_archives',
    'write_random_geotiff',
    'write_vaihingen_archives',
]
