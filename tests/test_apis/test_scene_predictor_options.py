"""Scene-prediction options that cannot work are refused in one line naming
the option, by the Python API and by tools/predict.py, before anything is
read or written; a NaN nodata value marks NaN pixels."""

import math
import os.path as osp
import re
import runpy
import sys

import numpy as np
import pytest
import torch

rasterio = pytest.importorskip('rasterio')
pytest.importorskip('mmseg')

from helpers import build_small as build
from helpers import small_cfg
from rasterio.transform import from_origin  # noqa: E402

from mmseg_stunet.apis import ScenePredictor  # noqa: E402
from mmseg_stunet.testing import smooth_scene as scene
from mmseg_stunet.testing import write_geotiff
from mmseg_stunet.utils.paths import project_root  # noqa: E402

GOOD = [[i * 40, 0, 0] for i in range(6)]  # the small models have 6 classes

# (keyword arguments, what the one-line error must say)
BAD_OPTIONS = [
    (dict(opacity=5), r'opacity \(--opacity\) must be in \[0, 1\], got 5'),
    (dict(opacity=-0.1), r'opacity \(--opacity\) must be in \[0, 1\]'),
    (dict(preview_size=0), r'preview_size \(--preview-size\) must be >= 1'),
    (dict(preview_size=-5), r'preview_size \(--preview-size\) .*got -5'),
    (
        dict(palette=[[255, 0]]),
        r'palette \(--palette\) as given: colour 0 '
        r'is \[255, 0\]; each colour must be 3 integers',
    ),
    (dict(palette=[[255, 0, 0, 0]] * 6), r'palette .*colour 0 is'),
    (dict(palette=GOOD[:5] + [[256, 0, 0]]), r'palette .*colour 5 is'),
    (dict(palette=GOOD[:5] + [[1.5, 0, 0]]), r'palette .*colour 5 is'),
    (dict(palette=GOOD[:5] + [[-1, 0, 0]]), r'palette .*colour 5 is'),
    (
        dict(palette=GOOD[:5]),
        r'palette .*5 colour\(s\) for a model of 6 '
        'classes',
    ),
    (dict(palette=GOOD + [[1, 2, 3]]), r'palette .*7 colour\(s\)'),
    (dict(palette='nope'), r"palette .*must be 'isprs', 'model'"),
    (dict(window=0), r'window \(--window\) must be >= 1'),
    (dict(window=(64, -3)), r'window \(--window\) must be >= 1'),
    (
        dict(window=64, overlap=64),
        r'overlap \(--overlap\) must be >= 0 and '
        r'less than the window \(64, 64\), got \(64, 64\)',
    ),
    (dict(window=64, overlap=100), r'overlap \(--overlap\)'),
    (dict(window=64, overlap=-1), r'overlap \(--overlap\)'),
    (dict(batch_size=0), r'batch_size \(--batch-size\) must be >= 1'),
    (dict(batch_size=-2), r'batch_size \(--batch-size\) must be >= 1'),
    (dict(bands=[0, 1, 2]), r'bands \(--bands\) are 1-based'),
    (dict(bands=[]), r'bands \(--bands\) are 1-based'),
    (
        dict(bands=[1, 2]),
        r'bands \(--bands\) selects 2 band\(s\) but the '
        r'model expects 3',
    ),
]


@pytest.fixture(scope='module')
def model():
    return build('fcn')


@pytest.mark.parametrize(
    'kwargs,message', BAD_OPTIONS, ids=[str(k) for k, _ in BAD_OPTIONS]
)
def test_bad_option_is_refused_naming_it(model, kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        ScenePredictor(model, progress=False, **kwargs)
    assert '\n' not in str(info.value)


def test_model_palette_must_fit_the_classes(model):
    model.dataset_meta = dict(palette=[[1, 2, 3]] * 4)
    try:
        with pytest.raises(
            ValueError,
            match=r'palette \(--palette\) from '
            r"the model's dataset_meta: 4 colour\(s\)",
        ):
            ScenePredictor(model, palette='model', progress=False)
        model.dataset_meta = dict(palette=GOOD)
        assert ScenePredictor(
            model, palette='model', progress=False
        ).palette == [tuple(c) for c in GOOD]
    finally:
        del model.dataset_meta


def test_good_edge_values_are_accepted(model):
    for kwargs in (
        dict(opacity=0),
        dict(opacity=1),
        dict(preview_size=1),
        dict(window=1, overlap=0),
        dict(bands=[3, 2, 1]),
        dict(palette=np.array(GOOD)),
        dict(nodata=math.nan),
    ):
        ScenePredictor(model, progress=False, **kwargs)


def test_bands_beyond_the_file_name_it_before_writing(model, tmp_path):
    src = str(tmp_path / 'rgb.tif')
    write_geotiff(src, scene(40, 50), georef=False)
    with pytest.raises(
        ValueError,
        match=r'rgb\.tif has 3 band\(s\); cannot '
        r'select band\(s\) \[4\]',
    ):
        ScenePredictor(model, bands=[4, 1, 2], progress=False).predict(
            src, str(tmp_path / 'out')
        )
    assert not osp.exists(tmp_path / 'out')


def test_nan_nodata_marks_nan_pixels(model, tmp_path):
    """A float32 scene whose left part is NaN and declares no nodata:
    ``nodata=nan`` writes those pixels as 255 and classifies the rest (NaN
    != NaN, so a plain comparison matched nothing and fed NaN to the
    model)."""
    img = scene(64, 96).astype(np.float32)
    img[:, :, :40] = np.nan
    src = str(tmp_path / 'nan.tif')
    write_geotiff(src, img, transform=from_origin(0, 0, 1, 1))
    out = ScenePredictor(
        model,
        window=64,
        overlap=16,
        preview=True,
        progress=False,
        nodata=float('nan'),
        allow_dtype=True,
    ).predict(src, str(tmp_path / 'out'))[0]
    with rasterio.open(out['classes']) as dst:
        classes = dst.read(1)
    assert (classes[:, :40] == 255).all()
    assert (classes[:, 40:] < 6).all()


@pytest.mark.parametrize(
    'option,value,message',
    [
        ('--opacity', '5', r'error: argument --opacity: 5 is out of range'),
        (
            '--preview-size',
            '0',
            r'error: argument --preview-size: 0 is out of',
        ),
        ('--batch-size', '0', r'error: argument --batch-size: 0 is out of'),
        ('--bands', '0', r'error: argument --bands: 0 is out of'),
    ],
)
def test_predict_cli_refuses_in_one_line(
    tmp_path, monkeypatch, capsys, option, value, message
):
    """Out-of-range numbers stop at the command line (argparse, exit 2),
    combinations in ScenePredictor (exit 1): one error line either way."""
    cfg_path = str(tmp_path / 'cfg.py')
    small_cfg('fcn').dump(cfg_path)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=build('fcn').state_dict()), ckpt)
    src = str(tmp_path / 'scene.png')
    import cv2

    cv2.imwrite(src, scene(40, 50).transpose(1, 2, 0))
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
            option,
            value,
            '--no-progress',
        ],
    )
    with pytest.raises(SystemExit) as info:
        runpy.run_path(
            osp.join(project_root(), 'tools', 'predict.py'),
            run_name='__main__',
        )
    assert info.value.code in (1, 2)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if 'error:' in ln]
    assert len(lines) == 1 and re.search(message, lines[0]), err
    assert 'Traceback' not in err
    assert not out_dir.exists()


@pytest.mark.parametrize(
    'kwargs,message',
    [
        (k, m)
        for k, m in BAD_OPTIONS
        if not {'palette'} & set(k) and k.get('bands') != [1, 2]
    ],
)
def test_from_config_refuses_before_building_the_model(
    tmp_path, monkeypatch, kwargs, message
):
    """Options that cannot work with any model are named before the model
    is built and the checkpoint read (which takes a while)."""
    from mmseg_stunet.apis import scene_predictor

    cfg_path = str(tmp_path / 'cfg.py')
    small_cfg('fcn').dump(cfg_path)

    def never(*args, **kw):
        raise AssertionError('the model was built')

    monkeypatch.setattr(scene_predictor, 'init_segmentor', never)
    with pytest.raises(ValueError, match=message):
        ScenePredictor.from_config(cfg_path, None, progress=False, **kwargs)
