"""Synthetic ISPRS archives and scenes for the demo, the benchmarks and the
tests (nothing here is registered or imported by ``mmseg_stunet``; the
tests' own helpers live in ``tests/helpers.py``)."""

from .synthetic_isprs import (
    colour_label,
    erode_label,
    make_scene,
    smooth_scene,
    write_potsdam_archives,
    write_random_geotiff,
    write_vaihingen_archives,
)

__all__ = [
    'colour_label',
    'erode_label',
    'make_scene',
    'smooth_scene',
    'write_potsdam_archives',
    'write_random_geotiff',
    'write_vaihingen_archives',
]
