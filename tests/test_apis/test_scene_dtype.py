"""A scene whose pixels are not uint8, for a model normalised for 8-bit
input, is refused naming the file, its dtype and value range and what the
model expects (predictions change class on another scale); with
``allow_dtype`` (--allow-dtype) it is predicted with one warning per
scene."""

import os.path as osp
import re
import runpy
import sys
import warnings

import numpy as np
import pytest
import torch

rasterio = pytest.importorskip('rasterio')
pytest.importorskip('mmseg')

from helpers import build_small as build
from helpers import small_cfg, write_geotiff

from mmseg_stunet.apis import ScenePredictor  # noqa: E402
from mmseg_stunet.testing import smooth_scene as scene
from mmseg_stunet.utils.paths import project_root  # noqa: E402

EXPECTS = (
    r'but the model expects 8-bit input \(uint8, 0\.\.255; '
    r'normalisation mean 123\.7, 116\.3, 103\.5, std 58\.4, 57\.1, '
    r'57\.4\)'
)


def write(path, img, **kw):
    return write_geotiff(path, img, georef=False, **kw)


U16 = scene(40, 50, dtype=np.uint16)  # 0..4000
# (name, pixels, the range the message gives)
MISMATCHED = [
    ('uint16', U16, rf'uint16 pixels \(values {U16.min()}\.\.4000\)'),
    (
        'int16',
        (U16.astype(np.int16) - 1000),
        r'int16 pixels \(values '
        r'-?\d+\.\.3000\)',
    ),
    (
        'float32_reflectance',
        (scene(40, 50) / 255).astype(np.float32),
        r'float32 pixels \(values 0(\.\d+)?\.\.1\)',
    ),
    (
        'uint16_8bit_values',
        scene(40, 50).astype(np.uint16),
        r'uint16 pixels \(values \d+\.\.255\)',
    ),
]


@pytest.fixture(scope='module')
def model():
    return build('fcn')


@pytest.mark.parametrize(
    'name,img,values', MISMATCHED, ids=[m[0] for m in MISMATCHED]
)
def test_other_dtype_is_refused_unless_allowed(
    model, tmp_path, name, img, values
):
    good = write(tmp_path / 'good.tif', scene(40, 50))
    src = write(tmp_path / f'{name}.tif', img)
    kw = dict(window=32, overlap=8, preview=False, progress=False)
    out_dir = tmp_path / 'out'
    with pytest.raises(
        ValueError,
        match=rf'{name}\.tif: {values}, {EXPECTS}; rescale '
        r'the scene to 0\.\.255, or pass allow_dtype=True '
        r'\(--allow-dtype\)',
    ) as info:
        ScenePredictor(model, **kw).predict([good, src], str(out_dir))
    assert '\n' not in str(info.value)
    assert not out_dir.exists()  # refused before anything is written

    with pytest.warns(UserWarning) as caught:
        outs = ScenePredictor(model, allow_dtype=True, **kw).predict(
            [good, src], str(out_dir)
        )
    mine = [
        str(w.message) for w in caught if 'model expects' in str(w.message)
    ]
    assert len(mine) == 1  # once for this scene, none for the uint8 one
    assert mine[0].startswith(src) and mine[0].endswith(
        'predicted as it is (--allow-dtype): the classes may be wrong'
    )
    with rasterio.open(outs[1]['classes']) as dst:
        assert (dst.read(1) < 6).all()


def test_uint8_and_unnormalised_models_are_not_questioned(model, tmp_path):
    u8 = write(tmp_path / 'u8.tif', scene(40, 50))
    u16 = write(tmp_path / 'u16.tif', U16)
    kw = dict(window=32, preview=False, progress=False)
    with warnings.catch_warnings():
        warnings.filterwarnings('error', message='.*model expects')
        ScenePredictor(model, **kw).predict(u8, str(tmp_path / 'a'))
        raw = build('fcn')
        raw.data_preprocessor._enable_normalize = False  # no scale known
        ScenePredictor(raw, **kw).predict(u16, str(tmp_path / 'b'))


@pytest.mark.parametrize(
    'extra,refused', [([], True), (['--allow-dtype'], False)]
)
def test_predict_cli(tmp_path, monkeypatch, capsys, extra, refused):
    cfg_path = str(tmp_path / 'cfg.py')
    small_cfg('fcn').dump(cfg_path)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=build('fcn').state_dict()), ckpt)
    src = write(tmp_path / 'u16.tif', U16)
    out_dir = tmp_path / 'out'
    monkeypatch.setattr(
        sys,
        'argv',
        [
            'predict.py',
            cfg_path,
            ckpt,
            src,
            '--out-dir',
            str(out_dir),
            '--window',
            '32',
            '--no-progress',
            *extra,
        ],
    )
    script = osp.join(project_root(), 'tools', 'predict.py')
    if refused:
        with pytest.raises(SystemExit) as info:
            runpy.run_path(script, run_name='__main__')
        assert info.value.code == 1
        err = capsys.readouterr().err.strip()
        assert '\n' not in err
        assert re.match(
            r'^error: .*u16\.tif: uint16 pixels .*'
            r'\(--allow-dtype\)',
            err,
        ), err
        assert not out_dir.exists()
    else:
        with pytest.warns(UserWarning, match=r'u16\.tif: uint16 pixels'):
            runpy.run_path(script, run_name='__main__')
        assert osp.isfile(out_dir / 'u16.tif')
