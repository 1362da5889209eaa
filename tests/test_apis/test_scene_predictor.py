"""Whole-scene prediction: tiling, GeoTIFF/PNG round trips, agreement with
MMSegmentation's whole-image inference, flip TTA, bands, errors."""

import os
import os.path as osp
import re
import runpy
import sys

import numpy as np
import pytest
import torch

rasterio = pytest.importorskip('rasterio')
pytest.importorskip('mmseg')

from helpers import GEO_CRS, GEO_TRANSFORM, small_cfg
from helpers import build_small as build
from helpers import write_geotiff as write_tif
from mmengine.config import Config  # noqa: E402
from mmseg.apis import inference_model, init_model  # noqa: E402
from rasterio.transform import from_origin  # noqa: E402

from mmseg_stunet.apis import ScenePredictor  # noqa: E402
from mmseg_stunet.apis.tiling import axis_spans, scene_tiles  # noqa: E402
from mmseg_stunet.datasets.isprs import ISPRS_PALETTE  # noqa: E402
from mmseg_stunet.testing import smooth_scene as scene
from mmseg_stunet.utils.paths import project_root  # noqa: E402

ROOT = project_root()
CRS = GEO_CRS
TRANSFORM = from_origin(*GEO_TRANSFORM)
# Receptive-field radius of the small FCN below, in input pixels: deep stem
# (3 convs + max-pool, stride 4) 7, two basic blocks at stride 4 16, head
# conv 4, bilinear x4 up-sampling 4.
FCN_RF_RADIUS = 31


def reference_logits(model, image):
    """MMSegmentation's own whole-image inference, (K, H, W) logits."""
    return inference_model(model, image).seg_logits.data.numpy()


def confident(logits, margin=1e-3):
    """Pixels whose top-2 logits differ by more than ``margin``."""
    top2 = np.sort(logits, axis=0)[-2:]
    return top2[1] - top2[0] > margin


def listing(folder):
    return sorted(os.listdir(folder)) if osp.isdir(folder) else []


@pytest.mark.parametrize(
    'length,window,overlap',
    [(300, 96, 64), (96, 96, 32), (50, 96, 64), (1000, 512, 128), (97, 32, 0)],
)
def test_axis_spans_partition(length, window, overlap):
    spans = axis_spans(length, window, overlap)
    assert spans[0].core_start == 0 and spans[-1].core_end == length
    for a, b in zip(spans, spans[1:]):
        assert a.core_end == b.core_start  # cores partition the axis
        assert b.start - a.start <= window - overlap
    for s in spans:
        assert s.size == min(window, length)
        assert 0 <= s.start and s.start + s.size <= length
        assert s.start <= s.core_start < s.core_end <= s.start + s.size
        # Away from the scene border a core keeps overlap // 2 px margin.
        if s.core_start > 0:
            assert s.core_start - s.start >= overlap // 2
        if s.core_end < length:
            assert s.start + s.size - s.core_end >= overlap // 2
    tiles = list(
        scene_tiles(length, length + 7, (window, window), (overlap, overlap))
    )
    assert sum(
        t.core_window[2] * t.core_window[3] for t in tiles
    ) == length * (length + 7)
    with pytest.raises(ValueError, match='overlap'):
        axis_spans(length, window, window)


def test_geotiff_matches_whole_image_inference(tmp_path, monkeypatch):
    """236 x 300 px (not a multiple of the 96 px window): same CRS, transform,
    size; exactly the whole-image class map (the model's receptive field is
    within overlap // 2)."""
    from mmseg_stunet.apis import preview as preview_module

    monkeypatch.setattr(preview_module, 'STRIP_PIXELS', 3000)  # 10 rows
    model = build('fcn')
    src = write_tif(str(tmp_path / 'scene.tif'), scene(236, 300))
    out_dir = str(tmp_path / 'out')
    predictor = ScenePredictor(
        model, window=96, overlap=64, batch_size=5, progress=False, opacity=0.5
    )
    out = predictor.predict(str(src), out_dir)[0]
    assert listing(out_dir) == ['scene.tif', 'scene_preview.png']
    with rasterio.open(out['classes']) as dst:
        assert dst.driver == 'GTiff' and dst.count == 1
        assert dst.dtypes == ('uint8',)
        assert (dst.height, dst.width) == (236, 300)
        assert dst.crs.to_string() == CRS
        assert dst.transform == TRANSFORM
        assert dst.colormap(1)[1] == tuple(ISPRS_PALETTE[1]) + (255,)
        classes = dst.read(1)
    ref = reference_logits(model, src)  # mmcv.imread: the same BGR order
    sure = confident(ref)
    assert sure.mean() > 0.99
    assert len(np.unique(ref.argmax(0))) >= 3
    np.testing.assert_array_equal(classes[sure], ref.argmax(0)[sure])

    # The preview (drawn in strips) is the image blended with the ISPRS
    # colours.
    import mmcv

    preview = mmcv.imread(out['preview'], channel_order='rgb')
    rgb = scene(236, 300).transpose(1, 2, 0).astype(np.float32)
    colours = np.array(ISPRS_PALETTE, np.float32)[classes]
    np.testing.assert_allclose(preview, 0.5 * rgb + 0.5 * colours, atol=1.01)


def test_no_overlap_differs_only_next_to_seams(tmp_path):
    """Control: without overlap the class map differs from whole-image
    inference, and only within the receptive field of a window seam."""
    model = build('fcn')
    src = write_tif(str(tmp_path / 'scene.tif'), scene(236, 300))
    predictor = ScenePredictor(
        model,
        window=96,
        overlap=0,
        batch_size=8,
        preview=False,
        progress=False,
    )
    out = predictor.predict(src, str(tmp_path / 'out'))[0]
    with rasterio.open(out['classes']) as dst:
        classes = dst.read(1)
    ref = reference_logits(model, src)
    wrong = (classes != ref.argmax(0)) & confident(ref)
    assert wrong.any()
    rows, cols = np.nonzero(wrong)
    row_seams = np.array([s.start for s in axis_spans(236, 96, 0)][1:])
    col_seams = np.array([s.start for s in axis_spans(300, 96, 0)][1:])
    near_row = np.abs(rows[:, None] - row_seams[None]).min(1) <= FCN_RF_RADIUS
    near_col = np.abs(cols[:, None] - col_seams[None]).min(1) <= FCN_RF_RADIUS
    assert (near_row | near_col).all()


def test_png_flip_tta_matches_mmseg(tmp_path):
    """PNG in, PNG out; one window covering the image with horizontal and
    vertical flips equals the mean softmax of MMSegmentation's inference on
    the flipped images (DeepLabV3+, global context)."""
    import mmcv

    model = build('deeplabv3plus')
    bgr = scene(70, 90).transpose(1, 2, 0)[..., ::-1].copy()
    src = str(tmp_path / 'in' / 'tile.png')
    mmcv.imwrite(bgr, src)  # makes the folder
    predictor = ScenePredictor(
        model,
        window=128,
        overlap=32,
        flip=['horizontal', 'vertical'],
        progress=False,
    )
    # (an out_dir inside an input folder is refused)
    out = predictor.predict([str(tmp_path / 'in')], str(tmp_path / 'out'))[0]
    assert out['classes'].endswith('tile.png')
    classes = mmcv.imread(out['classes'], flag='unchanged')
    assert classes.shape == (70, 90) and classes.dtype == np.uint8

    probs = []
    for axis in (None, 1, 0):
        img = bgr if axis is None else np.ascontiguousarray(np.flip(bgr, axis))
        logits = torch.from_numpy(reference_logits(model, img))
        if axis is not None:
            logits = logits.flip(axis + 1)
        probs.append(logits.softmax(0).numpy())
    mean = np.mean(probs, axis=0)
    sure = confident(mean, 1e-4)
    assert sure.mean() > 0.99
    np.testing.assert_array_equal(classes[sure], mean.argmax(0)[sure])
    # Differs from the prediction without flips somewhere.
    plain = ScenePredictor(
        model, window=128, overlap=0, preview=False, progress=False
    )
    plain_out = plain.predict(src, str(tmp_path / 'plain'))[0]
    assert (
        mmcv.imread(plain_out['classes'], flag='unchanged') != classes
    ).any()


def test_band_selection_and_multiband(tmp_path):
    """``bands`` picks and orders bands of a 4-band uint16 scene; a 4-channel
    model reads all four, first three reversed (as training loads them)."""
    img = scene(64, 80, bands=4, dtype=np.uint16)
    four = write_tif(str(tmp_path / 'four.tif'), img)
    three = write_tif(str(tmp_path / 'three.tif'), img[[3, 0, 1]])
    model = build('fcn')
    kw = dict(
        window=48, overlap=16, preview=False, progress=False, allow_dtype=True
    )  # uint16 for a model normalised for uint8
    picked = ScenePredictor(model, bands=[4, 1, 2], **kw).predict(
        four, str(tmp_path / 'a')
    )[0]
    direct = ScenePredictor(model, **kw).predict(three, str(tmp_path / 'b'))[0]
    with rasterio.open(picked['classes']) as a, rasterio.open(
        direct['classes']
    ) as b:
        np.testing.assert_array_equal(a.read(), b.read())

    model4 = build('fcn', in_channels=4)
    out = ScenePredictor(
        model4, window=200, preview=True, allow_dtype=True, progress=False
    ).predict(four, str(tmp_path / 'c'))[0]
    with rasterio.open(out['classes']) as dst:
        classes = dst.read(1)
    # fed as LoadImageFromFile gives a 4-band tile: B, G, R, IR
    fed = img[[2, 1, 0, 3]].astype(np.float32)
    data = model4.data_preprocessor(
        dict(inputs=[torch.from_numpy(fed)]), False
    )
    meta = [dict(img_shape=(64, 80))]
    with torch.no_grad():
        ref = model4.encode_decode(data['inputs'], meta)[0].numpy()
    sure = confident(ref)
    np.testing.assert_array_equal(classes[sure], ref.argmax(0)[sure])


def test_bad_inputs_raise_and_write_nothing(tmp_path):
    model = build('fcn')
    predictor = ScenePredictor(
        model, window=64, overlap=16, batch_size=2, progress=False
    )
    os.makedirs(tmp_path / 'in')
    good = write_tif(str(tmp_path / 'in' / 'good.tif'), scene(100, 120))
    out_dir = str(tmp_path / 'out')

    missing = str(tmp_path / 'in' / 'missing.tif')
    with pytest.raises(FileNotFoundError, match='missing.tif'):
        predictor.predict([good, missing], out_dir)

    four = write_tif(str(tmp_path / 'four.tif'), scene(40, 50, bands=4))
    with pytest.raises(ValueError, match=r'four\.tif gives 4 band.*3 input'):
        predictor.predict([good, four], out_dir)

    broken = tmp_path / 'in' / 'broken.tif'
    broken.write_bytes(b'II*\x00 this is not a TIFF')
    with pytest.raises(OSError, match='broken.tif'):
        predictor.predict(str(tmp_path / 'in'), out_dir)
    assert listing(out_dir) == []

    with pytest.raises(ValueError, match=r'good\.tif is input .*overwritten'):
        predictor.predict(good, str(tmp_path / 'in'))
    assert listing(tmp_path / 'in') == ['broken.tif', 'good.tif']

    # A failure half-way through a scene leaves no partial output.
    calls = []

    def fail_second_batch(windows):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError('out of memory')
        return ScenePredictor.predict_windows(predictor, windows)

    predictor.predict_windows = fail_second_batch
    with pytest.raises(RuntimeError, match='out of memory'):
        predictor.predict(good, out_dir)
    assert len(calls) == 2
    assert listing(out_dir) == []


def test_predict_cli(tmp_path, monkeypatch, capsys):
    """tools/predict.py: config + checkpoint through init_model."""
    model = build('fcn', seed=1)
    cfg_path = str(tmp_path / 'cfg.py')
    small_cfg('fcn').dump(cfg_path)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(
                dataset_meta=dict(
                    classes=list('abcdef'),
                    palette=[[i * 40, 0, 0] for i in range(6)],
                )
            ),
        ),
        ckpt,
    )
    src = write_tif(str(tmp_path / 'scene.tif'), scene(100, 130))
    out_dir = str(tmp_path / 'out')
    monkeypatch.setattr(
        sys,
        'argv',
        [
            'predict.py',
            cfg_path,
            ckpt,
            src,
            '--out-dir',
            out_dir,
            '--window',
            '64',
            '80',
            '--overlap',
            '16',
            '--batch-size',
            '3',
            '--palette',
            'model',
            '--no-progress',
        ],
    )
    script = osp.join(ROOT, 'tools', 'predict.py')
    runpy.run_path(script, run_name='__main__')
    api = ScenePredictor(
        model, window=(64, 80), overlap=16, preview=False, progress=False
    ).predict(src, str(tmp_path / 'api'))
    with rasterio.open(osp.join(out_dir, 'scene.tif')) as a, rasterio.open(
        api[0]['classes']
    ) as b:
        np.testing.assert_array_equal(a.read(), b.read())
        assert a.colormap(1)[2] == (80, 0, 0, 255)
    assert osp.isfile(osp.join(out_dir, 'scene_preview.png'))

    # Bad input: a one-line error naming the file, nothing written.
    missing = str(tmp_path / 'nope.tif')
    monkeypatch.setattr(
        sys,
        'argv',
        [
            'predict.py',
            cfg_path,
            ckpt,
            missing,
            '--out-dir',
            str(tmp_path / 'bad'),
        ],
    )
    with pytest.raises(SystemExit) as e:
        runpy.run_path(script, run_name='__main__')
    assert e.value.code == 1  # the one line is on stderr
    assert re.search(
        '^error: input not found: .*nope', capsys.readouterr().err, re.M
    )
    assert listing(tmp_path / 'bad') == []


@pytest.mark.cuda
def test_cuda_matches_cpu(tmp_path):
    model = build('fcn')
    src = write_tif(str(tmp_path / 'scene.tif'), scene(100, 130))
    kw = dict(window=64, overlap=32, preview=False, progress=False)
    cpu = ScenePredictor(model, **kw).predict(src, str(tmp_path / 'cpu'))
    gpu = ScenePredictor(model.cuda(), **kw).predict(
        src, str(tmp_path / 'gpu')
    )
    with rasterio.open(cpu[0]['classes']) as a, rasterio.open(
        gpu[0]['classes']
    ) as b:
        assert (a.read() == b.read()).mean() > 0.999


def test_nodata_half_round_trips(tmp_path):
    """A GeoTIFF whose left half is nodata (nodata=0 declared): those pixels
    come out as 255, the output declares 255 as nodata, windows of nodata
    only are not run, and valid pixels beyond the receptive field of the
    nodata edge equal the prediction of the valid half on its own."""
    model = build('fcn')
    img = scene(120, 200)
    img[:, :, :100] = 0
    src = write_tif(str(tmp_path / 'half.tif'), img, nodata=0)
    half = write_tif(str(tmp_path / 'right.tif'), img[:, :, 100:].copy())
    seen = []
    run = model.encode_decode
    model.encode_decode = lambda x, m: seen.append(len(x)) or run(x, m)
    predictor = ScenePredictor(
        model,
        window=96,
        overlap=64,
        batch_size=2,
        preview=True,
        progress=False,
    )
    out = predictor.predict(src, str(tmp_path / 'out'))[0]
    tiles = list(scene_tiles(120, 200, (96, 96), (64, 64)))
    skipped = [t for t in tiles if t.col.core_end <= 100]
    assert skipped and sum(seen) == len(tiles) - len(skipped)
    with rasterio.open(out['classes']) as dst:
        assert dst.nodata == 255
        classes = dst.read(1)
    assert (classes[:, :100] == 255).all()
    assert (classes[:, 100:] < 6).all()
    ref = reference_logits(model, half)
    keep = np.zeros(ref.shape[1:], bool)
    keep[:, FCN_RF_RADIUS + 1 :] = True
    sure = confident(ref) & keep
    assert sure.sum() > 0.5 * keep.sum()
    np.testing.assert_array_equal(classes[:, 100:][sure], ref.argmax(0)[sure])


def test_explicit_nodata_fills_with_the_mean_and_zero_warning(tmp_path):
    """--nodata marks pixels of a file without nodata metadata; a scene
    whose pixels are 0 in every band but declares no nodata warns."""
    model = build('fcn')
    img = scene(64, 96)
    img[:, :, :40] = 0
    png = str(tmp_path / 'img.png')
    import cv2

    cv2.imwrite(png, img.transpose(1, 2, 0)[..., ::-1])
    with pytest.warns(
        UserWarning,
        match=r'img\.png: 42% of the pixels are 0 '
        r'in every band .*\(--nodata 0\)',
    ):
        out = ScenePredictor(
            model, window=64, preview=False, progress=False
        ).predict(png, str(tmp_path / 'a'))
    classes = cv2.imread(out[0]['classes'], cv2.IMREAD_UNCHANGED)
    assert (classes[:, :40] < 6).all()  # classified, as the user asked
    out = ScenePredictor(
        model, window=64, preview=False, progress=False, nodata=0
    ).predict(png, str(tmp_path / 'b'))
    classes = cv2.imread(out[0]['classes'], cv2.IMREAD_UNCHANGED)
    assert (classes[:, :40] == 255).all() and (classes[:, 40:] < 6).all()


def test_non_finite_scores_are_an_error_naming_the_window(tmp_path):
    model = build('fcn')
    run = model.encode_decode

    def broken(x, metas):
        out = run(x, metas)
        out[0, 0, 5, 5] = float('nan')
        return out

    model.encode_decode = broken
    src = write_tif(str(tmp_path / 'scene.tif'), scene(64, 64))
    with pytest.raises(
        FloatingPointError,
        match=r'scene\.tif: the model gave non-finite scores '
        r'in window\(s\) \[\(0, 0, 64, 64\)\]',
    ):
        ScenePredictor(
            model, window=64, preview=False, progress=False
        ).predict(src, str(tmp_path / 'out'))
    assert not os.listdir(tmp_path / 'out')


def test_window_defaults_come_from_the_config():
    from mmseg_stunet.apis.inference import default_window
    from mmseg_stunet.utils.paths import config_path

    cfg = Config.fromfile(
        config_path('st_unet', 'st-unet_1xb8-100e_vaihingen-256x256.py')
    )
    cfg.model.backbone.update(
        base_channels=8,
        stage_blocks=(1, 1, 1, 1),
        num_groups=4,
        embed_dims=8,
        num_heads=(1, 1, 2, 2),
        window_size=4,
    )
    cfg.model.decode_head.update(
        in_channels=(32, 64, 128, 256),
        decoder_channels=(8, 8, 8, 8),
        channels=4,
    )
    paper = init_model(cfg, None, 'cpu')
    assert default_window(paper) == ((256, 256), (0, 0))
    predictor = ScenePredictor(paper, progress=False)
    assert (predictor.window, predictor.overlap) == ((256, 256), (0, 0))
    whole = build('fcn')  # no slide test_cfg, no training crop
    assert default_window(whole) is None
    predictor = ScenePredictor(whole, progress=False)
    assert (predictor.window, predictor.overlap) == ((512, 512), (128, 128))
    whole.data_preprocessor.size = (128, 96)
    assert ScenePredictor(whole, progress=False).window == (128, 96)
    assert ScenePredictor(whole, window=100, progress=False).overlap == (0, 0)
