"""Synthetic GeoTIFF scenes (mmseg_stunet.testing.geotiff)."""

import numpy as np
import pytest

rasterio = pytest.importorskip('rasterio')

from mmseg_stunet.testing import write_random_geotiff  # noqa: E402


def test_random_geotiff_is_tiled_georeferenced_blocks(tmp_path):
    """Written in 256-row strips, read back whole: the size asked for,
    uint8, tiled, georeferenced, constant on 16x16 blocks, and the same
    for the same seed."""
    path = str(tmp_path / 'a.tif')
    assert write_random_geotiff(path, 300, 520, seed=3) == path
    with rasterio.open(path) as src:
        img = src.read()
        assert (src.count, src.height, src.width) == (3, 300, 520)
        assert src.dtypes == ('uint8',) * 3
        assert src.crs.to_epsg() == 32632 and src.res == (0.5, 0.5)
        assert src.profile['tiled']
    # constant on the 16x16 blocks of each strip (256 rows: 16 blocks)
    for r in range(0, 256, 16):
        for c in range(0, 512, 16):
            block = img[:, r : r + 16, c : c + 16]
            assert (block == block[:, :1, :1]).all()
    assert img.std() > 50  # random, not flat
    again = str(tmp_path / 'b.tif')
    write_random_geotiff(again, 300, 520, seed=3)
    with rasterio.open(again) as src:
        np.testing.assert_array_equal(src.read(), img)
