"""Scene outputs: Cloud-Optimised GeoTIFF class maps and per-class
probability rasters round-trip (georeference, nodata, tiles, overviews,
values), and tools/predict.py's --backend onnxruntime / --cog /
--probabilities."""

import os.path as osp
import runpy
import sys

import numpy as np
import pytest
import torch

rasterio = pytest.importorskip('rasterio')
pytest.importorskip('mmseg')

from helpers import GEO_CRS, GEO_TRANSFORM
from helpers import build_small as build
from helpers import write_geotiff as write_tif
from rasterio.transform import from_origin  # noqa: E402

from mmseg_stunet.apis import ScenePredictor  # noqa: E402
from mmseg_stunet.testing import smooth_scene as scene
from mmseg_stunet.utils.paths import project_root  # noqa: E402

CRS = GEO_CRS
TRANSFORM = from_origin(*GEO_TRANSFORM)


def listing(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def check_probabilities(probs, classes, valid):
    """uint8 probabilities agree with the class map: the argmax is the class
    except where the top two quantised values tie (within 1, rounding), and
    they sum to about 255 at valid pixels."""
    top = probs.argmax(0)
    top2 = np.sort(probs.astype(int), axis=0)[-2:]
    differ = (top != classes) & valid
    assert (top2[1] - top2[0])[differ].max(initial=0) <= 1
    total = probs.astype(int).sum(0)[valid]
    assert np.abs(total - 255).max() <= len(probs) // 2 + 1


def test_cog_and_probabilities_round_trip(tmp_path):
    """600 x 700 scene, its left 50 columns nodata: the COG has the plain
    GeoTIFF's class map, CRS, transform, nodata and colours, 256 px tiles,
    deflate, internal overviews and the COG layout; the probability raster
    has one band per class, the same georeference, a nodata mask, and its
    argmax is the class map except at ties."""
    model = build('fcn', seed=1)
    img = scene(600, 700, seed=2)
    img[:, :, :50] = 0
    src = write_tif(tmp_path / 'scene.tif', img, nodata=0)
    kw = dict(
        window=128, overlap=32, batch_size=4, preview=False, progress=False
    )
    plain = ScenePredictor(model, **kw).predict(src, str(tmp_path / 'plain'))
    out = ScenePredictor(model, cog=True, probabilities=True, **kw).predict(
        src, str(tmp_path / 'cog')
    )[0]
    assert listing(tmp_path / 'cog') == [
        'scene.tif',
        'scene_probabilities.tif',
    ]
    with rasterio.open(plain[0]['classes']) as a, rasterio.open(
        out['classes']
    ) as b:
        assert b.tags(ns='IMAGE_STRUCTURE')['LAYOUT'] == 'COG'
        assert b.profile['tiled'] and b.block_shapes == [(256, 256)]
        assert b.compression.name == 'deflate'
        assert b.overviews(1) == [2, 4]
        assert (b.crs, b.transform, b.nodata) == (a.crs, a.transform, 255)
        assert b.colormap(1) == a.colormap(1)
        classes = b.read(1)
        np.testing.assert_array_equal(classes, a.read(1))
        # the overview is a nearest-neighbour class map, not a blend
        assert set(np.unique(b.read(1, out_shape=(150, 175)))) <= set(
            np.unique(classes)
        )
    valid = classes != 255
    assert (~valid).sum() == 600 * 50
    with rasterio.open(out['probabilities']) as p:
        assert p.count == 6 and p.dtypes == ('uint8',) * 6
        assert (p.crs, p.transform) == (
            rasterio.crs.CRS.from_string(CRS),
            TRANSFORM,
        )
        assert p.tags(ns='IMAGE_STRUCTURE')['LAYOUT'] == 'COG'
        assert p.overviews(1) == [2, 4]
        np.testing.assert_array_equal(p.read_masks(1) > 0, valid)
        probs = p.read()
    assert (probs[:, ~valid] == 0).all()
    check_probabilities(probs, classes, valid)


@pytest.mark.parametrize('flip', [[], ['horizontal', 'vertical']])
def test_probabilities_are_the_softmax_of_one_window(tmp_path, flip):
    """A scene inside one window: the probability raster is round(255 x
    softmax) of the model's logits (averaged over flips), computed here
    from data_preprocessor + encode_decode; a plain (not COG) tiled
    GeoTIFF without a mask when the scene has no nodata."""
    from mmseg.structures import SegDataSample

    model = build('deeplabv3plus', seed=4)
    img = scene(90, 110, seed=6)
    src = write_tif(tmp_path / 's.tif', img)
    out = ScenePredictor(
        model,
        window=128,
        flip=flip,
        probabilities=True,
        preview=False,
        progress=False,
    ).predict(src, str(tmp_path / 'out'))[0]
    raw = torch.from_numpy(img[::-1].astype(np.float32).copy())  # B, G, R
    softmax = []
    for dim in [None] + [{'horizontal': -1, 'vertical': -2}[f] for f in flip]:
        x = raw if dim is None else raw.flip(dim)
        data = model.data_preprocessor(
            dict(inputs=[x], data_samples=[SegDataSample()]), False
        )
        with torch.no_grad():
            logits = model.encode_decode(
                data['inputs'], [dict(img_shape=(90, 110))]
            )[0]
        softmax.append(
            (logits if dim is None else logits.flip(dim)).softmax(0).numpy()
        )
    expected = np.mean(softmax, 0) * 255
    with rasterio.open(out['probabilities']) as p, rasterio.open(
        out['classes']
    ) as c:
        assert p.block_shapes == [(256, 256)] * 6 or p.height < 256
        assert p.transform == TRANSFORM
        assert 'LAYOUT' not in p.tags(ns='IMAGE_STRUCTURE')
        assert (p.read_masks(1) == 255).all()
        probs, classes = p.read(), c.read(1)
    assert np.abs(probs - expected).max() <= 0.5 + 1e-3
    check_probabilities(probs, classes, np.ones_like(classes, bool))


def test_predict_cli_onnxruntime_cog_probabilities(
    tmp_path, monkeypatch, capsys
):
    """tools/predict.py --backend onnxruntime --onnx FILE INPUT: the
    PyTorch tool's class map (the model is far from ties), COG and
    probabilities written; options of the other back-end are refused at
    argparse (exit 2) in one line."""
    pytest.importorskip('onnxruntime')
    from helpers import small_cfg

    from mmseg_stunet.apis.onnx_export import export_onnx

    model = build('fcn', seed=1)
    cfg_path = str(tmp_path / 'cfg.py')
    small_cfg('fcn').dump(cfg_path)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    onnx_path = str(tmp_path / 'model.onnx')
    export_onnx(model, onnx_path, 3, (64, 64))
    src = write_tif(tmp_path / 'scene.tif', scene(100, 130))
    script = osp.join(project_root(), 'tools', 'predict.py')
    common = [
        '--window',
        '64',
        '--overlap',
        '16',
        '--no-progress',
        '--no-preview',
        '--flip',
        'horizontal',
    ]
    for argv in (
        [cfg_path, ckpt, src, '--out-dir', str(tmp_path / 'pt')],
        [
            '--backend',
            'onnxruntime',
            '--onnx',
            onnx_path,
            src,
            '--out-dir',
            str(tmp_path / 'ort'),
            '--cog',
            '--probabilities',
            '--threads',
            '1',
        ],
    ):
        monkeypatch.setattr(sys, 'argv', ['predict.py', *argv, *common])
        runpy.run_path(script, run_name='__main__')
    assert listing(tmp_path / 'ort') == [
        'scene.tif',
        'scene_probabilities.tif',
    ]
    with rasterio.open(tmp_path / 'pt' / 'scene.tif') as a, rasterio.open(
        tmp_path / 'ort' / 'scene.tif'
    ) as b:
        np.testing.assert_array_equal(a.read(), b.read())
        assert b.tags(ns='IMAGE_STRUCTURE')['LAYOUT'] == 'COG'
    capsys.readouterr()
    for argv, message in (
        (['--backend', 'onnxruntime', src], 'needs --onnx'),
        (['--onnx', onnx_path, src], 'needs --backend onnxruntime'),
        (
            [
                '--backend',
                'onnxruntime',
                '--onnx',
                onnx_path,
                src,
                '--allow-partial',
            ],
            '--allow-partial: not with --backend',
        ),
        ([cfg_path, ckpt, src, '--threads', '2'], 'only with --backend'),
    ):
        monkeypatch.setattr(
            sys,
            'argv',
            ['predict.py', *argv, '--out-dir', str(tmp_path / 'bad')],
        )
        with pytest.raises(SystemExit) as e:
            runpy.run_path(script, run_name='__main__')
        assert e.value.code == 2
        assert message in capsys.readouterr().err
    assert listing(tmp_path / 'bad') == []


def test_failed_cog_run_leaves_no_file(tmp_path):
    """A run that fails mid-scene leaves nothing, hidden staging and
    partial files included."""
    import os

    model = build('fcn')
    src = write_tif(tmp_path / 'scene.tif', scene(200, 200))
    predictor = ScenePredictor(
        model,
        window=64,
        batch_size=2,
        cog=True,
        probabilities=True,
        progress=False,
    )
    run, calls = predictor.predict_windows, []

    def fail_second_batch(windows):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError('out of memory')
        return run(windows)

    predictor.predict_windows = fail_second_batch
    with pytest.raises(RuntimeError, match='out of memory'):
        predictor.predict(src, str(tmp_path / 'out'))
    assert os.listdir(tmp_path / 'out') == []
