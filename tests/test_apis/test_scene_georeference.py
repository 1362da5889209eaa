"""The class map keeps the scene's georeferencing whatever its kind: CRS
and transform, ground control points (and their CRS), RPCs."""

import numpy as np
import pytest

rasterio = pytest.importorskip('rasterio')
pytest.importorskip('mmseg')

from helpers import build_small as build
from rasterio.control import GroundControlPoint  # noqa: E402
from rasterio.crs import CRS  # noqa: E402
from rasterio.rpc import RPC  # noqa: E402
from rasterio.transform import from_origin  # noqa: E402

from mmseg_stunet.apis import ScenePredictor  # noqa: E402
from mmseg_stunet.testing import smooth_scene as scene
from mmseg_stunet.testing import write_geotiff

H, W = 40, 50
GCPS = [
    GroundControlPoint(
        row=r,
        col=c,
        x=500000.0 + 0.5 * c,
        y=5300000.0 - 0.5 * r,
        z=10.0 * i,
        id=str(i),
    )
    for i, (r, c) in enumerate([(0, 0), (0, W), (H, 0), (H, W), (20, 25)])
]
RPCS = RPC(
    height_off=100.0,
    height_scale=50.0,
    lat_off=48.1,
    lat_scale=0.01,
    line_den_coeff=[1.0] + [0.0] * 19,
    line_num_coeff=[0.0, 0.1, -1.0] + [1e-4] * 17,
    line_off=20.0,
    line_scale=20.0,
    long_off=11.5,
    long_scale=0.01,
    samp_den_coeff=[1.0] + [0.0] * 19,
    samp_num_coeff=[0.0, 1.0, 0.1] + [-1e-4] * 17,
    samp_off=25.0,
    samp_scale=25.0,
)

CASES = {
    'transform': dict(
        crs=CRS.from_epsg(32632),
        transform=from_origin(500000.0, 5300000.0, 0.5, 0.5),
    ),
    'gcps': dict(gcps=GCPS, crs=CRS.from_epsg(32632)),
    'gcps_wgs84': dict(gcps=GCPS[:4], crs=CRS.from_epsg(4326)),
    'rpcs': dict(rpcs=RPCS),
    'gcps_and_rpcs': dict(gcps=GCPS, crs=CRS.from_epsg(32632), rpcs=RPCS),
}


def georeference(ds):
    gcps, gcp_crs = ds.gcps
    return dict(
        crs=ds.crs,
        transform=ds.transform,
        gcp_crs=gcp_crs,
        gcps=[(g.row, g.col, g.x, g.y, g.z) for g in gcps],
        rpcs=ds.rpcs.to_dict() if ds.rpcs else None,
    )


@pytest.fixture(scope='module')
def model():
    return build('fcn')


@pytest.mark.parametrize('cog', [False, True])
@pytest.mark.parametrize('kind', sorted(CASES))
def test_class_map_keeps_the_georeference(model, tmp_path, kind, cog):
    """A GCP-georeferenced scene (no affine transform) lost its
    georeference silently: only CRS and transform were copied. The
    Cloud-Optimised GeoTIFF and the probabilities keep it too."""
    src = str(tmp_path / 'scene.tif')
    write_geotiff(src, scene(H, W), georef=False, **CASES[kind])
    out = ScenePredictor(
        model,
        window=32,
        overlap=8,
        preview=False,
        progress=False,
        cog=cog,
        probabilities=cog,
    ).predict(src, str(tmp_path / 'out'))[0]
    with rasterio.open(src) as a, rasterio.open(out['classes']) as b:
        expected, got = georeference(a), georeference(b)
        assert (b.height, b.width, b.count) == (H, W, 1)
        assert (b.read(1) < 6).all()
        if cog:
            assert b.tags(ns='IMAGE_STRUCTURE')['LAYOUT'] == 'COG'
    assert got == expected
    if cog:
        with rasterio.open(out['probabilities']) as p:
            assert georeference(p) == expected and p.count == 6
    if 'gcps' in kind:
        assert len(got['gcps']) == len(CASES[kind]['gcps'])
        assert got['gcp_crs'] == CASES[kind]['crs']
    if 'rpcs' in kind:
        assert got['rpcs'] is not None
        np.testing.assert_allclose(
            got['rpcs']['samp_num_coeff'], RPCS.samp_num_coeff
        )
