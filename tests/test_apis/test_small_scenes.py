"""Scenes smaller than twice the output stride (ST-UNet: 64 px) are padded
to it and the class map cropped back, in the scene predictor and in the
exported ONNX graph, which agree; ST-UNet stopped with a GroupNorm error
on them ("Expected more than 1 value per channel")."""

import numpy as np
import pytest
import torch

rasterio = pytest.importorskip('rasterio')
pytest.importorskip('mmseg')

from helpers import SMALL_STUNET_BACKBONE, SMALL_STUNET_HEAD, small_cfg
from helpers import build_small as build
from mmseg.apis import init_model  # noqa: E402

from mmseg_stunet.apis import ScenePredictor  # noqa: E402
from mmseg_stunet.testing import smooth_scene as scene
from mmseg_stunet.testing import write_geotiff

# (height, width): deepest ST-UNet map 1x1 (10x7, 32x32, 2x3), a single row
# or column of cells (20x100, 100x20), and the smallest unpadded size
# (1x1 is left out: the preview, drawn by mmseg's SegLocalVisualizer, fails
# on a single pixel)
SIZES = [(10, 7), (32, 32), (2, 3), (20, 100), (100, 20), (64, 64)]


@pytest.fixture(scope='module')
def stunet():
    cfg = small_cfg('fcn')
    cfg.model.backbone = dict(SMALL_STUNET_BACKBONE)
    cfg.model.decode_head = dict(SMALL_STUNET_HEAD)
    torch.manual_seed(0)
    return init_model(cfg, None, 'cpu').eval()


def predict(model, img, tmp_path, name):
    src = str(tmp_path / f'{name}.tif')
    write_geotiff(src, img, georef=False)
    out = ScenePredictor(
        model, window=256, preview=True, progress=False
    ).predict(src, str(tmp_path / f'out_{name}'))[0]
    with rasterio.open(out['classes']) as dst:
        return dst.read(1)


def test_min_input_size_is_twice_the_output_stride(stunet):
    from mmseg_stunet.apis.inference import min_input_size, pad_to_min_size

    assert min_input_size(stunet) == 64  # ST-UNet: stride 32
    assert min_input_size(build('deeplabv3plus')) == 32  # stride 16
    x = torch.ones(1, 3, 10, 70)
    padded = pad_to_min_size(x, 64)
    assert padded.shape == (1, 3, 64, 70)
    assert (padded[:, :, :10] == 1).all() and (padded[:, :, 10:] == 0).all()
    assert pad_to_min_size(x, 8) is x  # large enough: untouched


@pytest.mark.parametrize('size', SIZES, ids=[f'{h}x{w}' for h, w in SIZES])
def test_small_scene_is_predicted_whole(stunet, tmp_path, size):
    """The docs promise scenes smaller than a window are predicted whole;
    the class map is the one of the scene padded with the mean pixel."""
    h, w = size
    img = scene(max(h, 4), max(w, 4))[:, :h, :w].copy()
    classes = predict(stunet, img, tmp_path, 'small')
    assert classes.shape == (h, w) and (classes < 6).all()
    pre = stunet.data_preprocessor
    x = (
        torch.from_numpy(img[::-1].astype(np.float32))[None].flip(1) - pre.mean
    ) / pre.std  # BGR as read, RGB after the swap
    x = torch.nn.functional.pad(x, (0, max(0, 64 - w), 0, max(0, 64 - h)))
    with torch.no_grad():
        ref = stunet.encode_decode(
            x, [dict(img_shape=x.shape[2:], pad_shape=x.shape[2:])]
        )
    np.testing.assert_array_equal(classes, ref[0, :, :h, :w].argmax(0))


@pytest.mark.e2e  # an ST-UNet export (tens of seconds on 2 cores)
def test_onnx_runtime_agrees_on_small_scenes(stunet, tmp_path):
    """The exported graph pads small inputs the same way: the project's
    ONNX Runtime runner and the torch predictor give equal class maps on
    small scenes (and on 70x90, not a multiple of 32, where a bilinear
    resize of ST-UNet's logits differed from its head's crop)."""
    pytest.importorskip('onnxruntime')
    from mmseg_stunet.apis.onnx_export import OnnxSegmentor, export_onnx

    path = str(tmp_path / 'stunet.onnx')
    export_onnx(stunet, path, 3, sample_size=(64, 64))
    runner = OnnxSegmentor(path)
    for h, w in SIZES + [(70, 90)]:
        img = scene(max(h, 4), max(w, 4), seed=h * w)[:, :h, :w].copy()
        classes = predict(stunet, img, tmp_path, f'{h}x{w}')
        bands = [b - 1 for b in runner.band_order]  # as the file is read
        logits = runner(img[bands].astype(np.float32)[None])[0]
        assert logits.shape == (6, h, w)
        top2 = np.sort(logits, axis=0)[-2:]
        sure = top2[1] - top2[0] > 1e-4
        assert sure.mean() > 0.99
        np.testing.assert_array_equal(classes[sure], logits.argmax(0)[sure])
