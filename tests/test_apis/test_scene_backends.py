"""The scene predictor's ONNX Runtime back-end: the same tiling, overlap,
flips and nodata handling as the PyTorch path, class maps equal except at
near-ties of the PyTorch scores; the ONNX metadata is its only source of
band order, normalisation, classes, palette and window."""

import numpy as np
import pytest
import torch

rasterio = pytest.importorskip('rasterio')
pytest.importorskip('mmseg')
pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from helpers import GEO_CRS, GEO_TRANSFORM
from helpers import build_small as build
from helpers import write_geotiff as write_tif
from rasterio.transform import from_origin  # noqa: E402

from mmseg_stunet.apis import ScenePredictor  # noqa: E402
from mmseg_stunet.apis.backends import OnnxBackend, TorchBackend  # noqa: E402
from mmseg_stunet.apis.onnx_export import export_onnx  # noqa: E402
from mmseg_stunet.apis.raster_io import SceneReader  # noqa: E402
from mmseg_stunet.apis.tiling import scene_tiles  # noqa: E402
from mmseg_stunet.testing import smooth_scene as scene

CRS = GEO_CRS
TRANSFORM = from_origin(*GEO_TRANSFORM)
#: two scores closer than this are a tie within float tolerance (the
#: back-ends' logits differ by ~1e-5 on these models; softmax scores less)
TIE = 1e-4


def exported(model, path, dynamic=True, size=(64, 64)):
    model.dataset_meta = dict(
        classes=list('abcdef'), palette=[[i * 40, 10, 0] for i in range(6)]
    )
    export_onnx(model, str(path), 3, size, dynamic=dynamic)
    return str(path)


def score_map(predictor, src):
    """The predictor's (K, H, W) scores of every pixel, from the window
    whose core holds it (an independent assembly of the cores)."""
    with SceneReader(
        src, predictor.bands, predictor.in_channels, predictor.nodata
    ) as reader:
        out = np.zeros(
            (predictor.num_classes, reader.height, reader.width), np.float32
        )
        for tile in scene_tiles(
            reader.height, reader.width, predictor.window, predictor.overlap
        ):
            pixels = reader.read(tile.read_window)
            valid = reader.valid_mask(tile.read_window, pixels)
            if valid is not None:
                pixels[:, ~valid] = predictor.fill[:, None]
            scores = predictor.predict_windows(pixels[None])[0].numpy()
            col, row, w, h = tile.core_window
            out[:, row : row + h, col : col + w] = scores[
                (slice(None),) + tile.core_slices
            ]
    return out


def margin(scores):
    top2 = np.sort(scores, axis=0)[-2:]
    return top2[1] - top2[0]


# (model, scene size, window, overlap, flips, nodata in the left columns)
CASES = [
    ('fcn', (150, 190), 64, 16, ['horizontal', 'vertical'], 0),
    ('fcn', (97, 131), (48, 64), (8, 24), [], 40),
    ('deeplabv3plus', (120, 140), 64, 32, ['horizontal'], 30),
    ('deeplabv3plus', (50, 70), 96, 32, ['vertical'], 0),  # scene < window
]


@pytest.mark.parametrize('head,size,window,overlap,flip,nodata_cols', CASES)
def test_onnxruntime_class_maps_equal_pytorch_except_near_ties(
    tmp_path, head, size, window, overlap, flip, nodata_cols
):
    model = build(head, seed=3)
    onnx_path = exported(model, tmp_path / 'model.onnx')
    img = scene(*size, seed=5)
    if nodata_cols:
        img[:, :, :nodata_cols] = 0
    src = write_tif(
        str(tmp_path / 'scene.tif'),
        img,
        **(dict(nodata=0) if nodata_cols else {}),
    )
    kw = dict(
        window=window,
        overlap=overlap,
        flip=flip,
        batch_size=3,
        preview=False,
        progress=False,
    )
    torch_pred = ScenePredictor(model, **kw)
    ort_pred = ScenePredictor.from_onnx(onnx_path, **kw)
    assert isinstance(ort_pred.backend, OnnxBackend)
    assert isinstance(torch_pred.backend, TorchBackend)
    np.testing.assert_array_equal(ort_pred.fill, torch_pred.fill)
    assert ort_pred.expects == torch_pred.expects
    a = torch_pred.predict(src, str(tmp_path / 'torch'))[0]['classes']
    b = ort_pred.predict(src, str(tmp_path / 'ort'))[0]['classes']
    with rasterio.open(a) as ta, rasterio.open(b) as tb:
        assert tb.profile == ta.profile
        ca, cb = ta.read(1), tb.read(1)
    assert len(np.unique(ca)) >= 3
    if nodata_cols:
        assert (cb[:, :nodata_cols] == 255).all()
    scores = score_map(torch_pred, src)
    # the independent assembly gives the written class map
    valid = ca != 255
    np.testing.assert_array_equal(scores.argmax(0)[valid], ca[valid])
    ort_scores = score_map(ort_pred, src)
    assert np.abs(ort_scores - scores)[:, valid].max() < TIE / 2
    differ = ca != cb
    # every differing pixel is a near-tie of the PyTorch scores
    assert (margin(scores)[differ] <= TIE).all()
    print(
        f'{head} {size}: {differ.sum()} of {differ.size} pixels differ '
        f'({differ.mean():.2e}); near-ties (margin <= {TIE}): '
        f'{(margin(scores)[valid] <= TIE).sum()}'
    )


def test_onnx_metadata_gives_palette_window_and_classes(tmp_path):
    model = build('fcn')
    model.test_cfg = dict(mode='slide', crop_size=(64, 64), stride=(48, 48))
    path = exported(model, tmp_path / 'm.onnx')
    predictor = ScenePredictor.from_onnx(path, palette='model', progress=False)
    assert (predictor.window, predictor.overlap) == ((64, 64), (16, 16))
    assert predictor.num_classes == 6
    assert predictor.palette[2] == (80, 10, 0)


def test_static_graph_runs_its_window_and_refuses_others(tmp_path):
    """A --static export (1 x 3 x 64 x 64) runs batches window by window
    and gives the dynamic graph's class map; another window, or a scene
    smaller than the window, is refused in one line naming it."""
    model = build('fcn', seed=2)
    static = exported(model, tmp_path / 'static.onnx', dynamic=False)
    dynamic = exported(model, tmp_path / 'dynamic.onnx')
    src = write_tif(str(tmp_path / 'scene.tif'), scene(100, 120))
    kw = dict(
        window=64, overlap=16, batch_size=4, preview=False, progress=False
    )
    a = ScenePredictor.from_onnx(static, **kw).predict(
        src, str(tmp_path / 's')
    )[0]['classes']
    b = ScenePredictor.from_onnx(dynamic, **kw).predict(
        src, str(tmp_path / 'd')
    )[0]['classes']
    with rasterio.open(a) as ta, rasterio.open(b) as tb:
        np.testing.assert_array_equal(ta.read(), tb.read())
    with pytest.raises(
        ValueError,
        match=r'static.onnx: the graph takes fixed 64x64 '
        r'windows, but window \(--window\) is 80x80',
    ):
        ScenePredictor.from_onnx(static, window=80, progress=False)
    small = write_tif(str(tmp_path / 'small.tif'), scene(40, 120))
    out = tmp_path / 'small_out'
    with pytest.raises(ValueError, match='a 40x64 window .* fixed 64x64'):
        ScenePredictor.from_onnx(static, **kw).predict(small, str(out))
    assert not list(out.glob('*.tif'))


def test_onnx_mismatched_options_are_refused(tmp_path):
    model = build('fcn')
    model_path = exported(model, tmp_path / 'm.onnx')
    with pytest.raises(ValueError, match='m.onnx expects 3 input'):
        ScenePredictor.from_onnx(model_path, bands=[1, 2], progress=False)
    model.dataset_meta = {}
    bare = str(tmp_path / 'bare.onnx')
    export_onnx(model, bare, 3, (64, 64))
    with pytest.raises(ValueError, match='ONNX metadata palette is null'):
        ScenePredictor.from_onnx(bare, palette='model', progress=False)
    with pytest.raises(FileNotFoundError, match='nope.onnx'):
        ScenePredictor.from_onnx(str(tmp_path / 'nope.onnx'))


def test_torch_backend_is_the_default_path():
    """An nn.Module is wrapped in TorchBackend; its logits are the model's
    data_preprocessor + encode_decode."""
    model = build('fcn')
    predictor = ScenePredictor(model, window=64, progress=False)
    assert predictor.model is model
    raw = torch.rand(2, 3, 64, 64) * 255
    from mmseg.structures import SegDataSample

    data = model.data_preprocessor(
        dict(inputs=list(raw), data_samples=[SegDataSample()] * 2), False
    )
    with torch.no_grad():
        ref = model.encode_decode(
            data['inputs'], [dict(img_shape=(64, 64))] * 2
        )
    torch.testing.assert_close(predictor.predict_windows(raw.numpy()), ref)
