"""ONNX export with dynamic height/width: logits match PyTorch."""

import os
import os.path as osp
import runpy
import sys

import numpy as np
import pytest
import torch

pytest.importorskip('mmseg')
onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from helpers import build_small as build
from helpers import small_cfg
from mmengine.config import Config  # noqa: E402
from mmseg.apis import init_model  # noqa: E402

from mmseg_stunet.apis.inference import model_in_channels  # noqa: E402
from mmseg_stunet.apis.onnx_export import (  # noqa: E402
    SegmentorLogits,
    check_onnx,
    export_onnx,
)
from mmseg_stunet.datasets.isprs import ISPRS_CLASSES, ISPRS_PALETTE  # noqa: E402
from mmseg_stunet.utils.paths import config_path, project_root  # noqa: E402

ROOT = project_root()

SIZES = [(64, 96), (80, 48)]


def test_wrapper_matches_mmseg_pipeline():
    """Folded pre-processing + forward equals data_preprocessor +
    encode_decode on raw BGR pixels."""
    model = build('deeplabv3plus')
    img = torch.rand(2, 3, 50, 70) * 255
    data = model.data_preprocessor(dict(inputs=list(img)), False)
    metas = [dict(img_shape=(50, 70))] * 2
    with torch.no_grad():
        ref = model.encode_decode(data['inputs'], metas)
        got = SegmentorLogits(model, 3).eval()(img)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-5)


def shrunk(config, backbone, head, aux=None):
    """A project config with every width cut down, random weights (an
    untrained ST-UNet stays bounded in eval mode, so BatchNorm needs no
    calibration) and, with DCN, non-zero offsets."""
    cfg = Config.fromfile(config_path(config))
    cfg.model.backbone.update(backbone)
    cfg.model.decode_head.update(head)
    if aux is not None:
        cfg.model.auxiliary_head.update(aux)
    torch.manual_seed(0)
    model = init_model(cfg, None, 'cpu')
    for name, param in model.named_parameters():
        if 'conv_offset' in name:
            torch.nn.init.normal_(param, std=0.05)
    return model.eval()


def test_deeplabv3plus_config_dynamic_two_sizes(tmp_path):
    # the config's ResNet-D8, DeepLabV3+ head and FCN auxiliary head at
    # depth 18 and 1/8 width, to keep the export fast
    model = shrunk(
        'deeplabv3plus/deeplabv3plus_r50-d8_1xb8-100e_vaihingen-256x256.py',
        dict(depth=18, stem_channels=8, base_channels=8),
        dict(in_channels=64, c1_in_channels=8, channels=16, c1_channels=8),
        dict(in_channels=32, channels=8),
    )
    path = str(tmp_path / 'dlv3p.onnx')
    wrapper = export_onnx(model, path, model_in_channels(model), (64, 64))
    dims = onnx.load(path).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ['batch', '', 'height', 'width']
    results = check_onnx(wrapper, path, 3, SIZES, repeats=0)
    assert set(results) == set(SIZES)
    for r in results.values():
        assert r['max_abs_diff'] <= 1e-3


def test_deform_conv_dynamic_export(tmp_path):
    """The pure-PyTorch DCNv2 exported with dynamic H/W at 16x16 matches
    PyTorch at other sizes, larger, smaller and non-square (offsets large
    enough that samples leave the map, so the border handling depends on
    the size)."""
    from mmseg_stunet.models.layers.dcn import DeformConvV2

    torch.manual_seed(0)
    layer = DeformConvV2(4, 4, 3, padding=1).eval()
    torch.nn.init.normal_(layer.conv_offset.weight, std=0.3)
    path = str(tmp_path / 'dcn.onnx')
    axes = {2: 'height', 3: 'width'}
    torch.onnx.export(
        layer,
        (torch.rand(1, 4, 16, 16),),
        path,
        dynamo=False,
        input_names=['image'],
        output_names=['logits'],
        dynamic_axes=dict(image=axes, logits=axes),
    )
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    for shape in [(1, 4, 24, 20), (1, 4, 9, 13), (1, 4, 40, 40)]:
        img = torch.randn(*shape)
        with torch.no_grad():
            expected = layer(img).numpy()
        got = session.run(None, {'image': img.numpy()})[0]
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 1e-3, shape


STUNET_TINY = (
    dict(
        base_channels=8,
        stage_blocks=(1, 1, 1, 1),
        num_groups=4,
        embed_dims=8,
        num_heads=(1, 1, 2, 2),
        window_size=4,
    ),
    dict(
        in_channels=(32, 64, 128, 256),
        decoder_channels=(32, 16, 16, 8),
        channels=4,
    ),
)


@pytest.mark.e2e
def test_stunet_static_export(tmp_path):
    """ST-UNet (tiny widths, DCN with non-zero offsets) exported at a fixed
    window size."""
    model = shrunk(
        'st_unet/st-unet_1xb8-100e_vaihingen-256x256.py', *STUNET_TINY
    )
    path = str(tmp_path / 'stunet.onnx')
    wrapper = export_onnx(model, path, 3, (64, 64), dynamic=False)
    results = check_onnx(wrapper, path, 3, [(64, 64)], repeats=0)
    assert results[(64, 64)]['max_abs_diff'] <= 1e-3


@pytest.mark.e2e
def test_stunet_dynamic_export(tmp_path):
    """ST-UNet (tiny widths, DCN with non-zero offsets) exported with
    dynamic H/W at 64x64 -- where no Swin stage or SoftPool pads -- matches
    PyTorch at sizes where the windows, the shift mask and the pools need
    padding and the window counts differ."""
    model = shrunk(
        'st_unet/st-unet_1xb8-100e_vaihingen-256x256.py', *STUNET_TINY
    )
    path = str(tmp_path / 'stunet.onnx')
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        wrapper = export_onnx(model, path, 3, (64, 64))
    noisy = [
        f'{w.filename}:{w.lineno} {w.message}'
        for w in caught
        if issubclass(w.category, torch.jit.TracerWarning)
        or 'batch_norm' in str(w.message)
    ]
    assert not noisy, noisy  # the model's shape logic traces silently
    dims = onnx.load(path).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ['batch', '', 'height', 'width']
    results = check_onnx(wrapper, path, 3, SIZES + [(100, 70)], repeats=0)
    assert set(results) == set(SIZES + [(100, 70)])
    for r in results.values():
        assert r['max_abs_diff'] <= 1e-3


def test_export_cli(tmp_path, monkeypatch, capsys):
    cfg_path = str(tmp_path / 'cfg.py')
    small_cfg('fcn', in_channels=4).dump(cfg_path)
    out = str(tmp_path / 'fcn.onnx')
    argv = [
        'export_onnx.py',
        cfg_path,
        '--out',
        out,
        '--shape',
        '48',
        '48',
        '--check-sizes',
        '40',
        '56',
        '72',
        '32',
        '--repeats',
        '1',
    ]
    script = osp.join(ROOT, 'tools', 'export_onnx.py')
    # A failed check writes nothing (a negative --atol is refused by
    # argparse now; no float32 ONNX run matches PyTorch to 1e-30).
    monkeypatch.setattr(sys, 'argv', argv + ['--atol', '1e-30'])
    with pytest.raises(SystemExit, match='fcn.onnx not written'):
        runpy.run_path(script, run_name='__main__')
    assert sorted(os.listdir(tmp_path)) == ['cfg.py']

    monkeypatch.setattr(sys, 'argv', argv)
    runpy.run_path(script, run_name='__main__')
    printed = capsys.readouterr().out
    assert '40x56' in printed and '72x32' in printed
    assert f'wrote {out}' in printed
    # the band order the file records (4 bands: B, G, R, IR, as OpenCV
    # loads the RGBIR tiles in training)
    assert (
        'input channels = bands 3, 2, 1, 4 of the image file (1-based) '
        '(B, G, R, IR of an RGBIR file, as mmcv.imread reads it); '
        'raw pixels, normalised in the graph'
    ) in printed
    import onnxruntime as ort

    session = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    logits = session.run(
        None, {'image': np.zeros((2, 4, 24, 40), np.float32)}
    )[0]
    assert logits.shape == (2, 6, 24, 40)


def test_export_cli_refuses_nan_missing_folder_and_foreign_checkpoint(
    tmp_path, monkeypatch, capsys
):
    from mmengine.runner import save_checkpoint

    cfg_path = str(tmp_path / 'cfg.py')
    small_cfg('fcn').dump(cfg_path)
    model = build('fcn')
    model.decode_head.conv_seg.weight.data[0, 0] = float('nan')
    nan_ckpt = str(tmp_path / 'nan.pth')
    save_checkpoint(dict(state_dict=model.state_dict()), nan_ckpt)
    foreign = str(tmp_path / 'foreign.pth')
    save_checkpoint(
        dict(state_dict=build('deeplabv3plus').state_dict()), foreign
    )
    script = osp.join(ROOT, 'tools', 'export_onnx.py')

    def export(*argv):
        monkeypatch.setattr(sys, 'argv', ['export_onnx.py', cfg_path, *argv])
        with pytest.raises(SystemExit) as e:
            runpy.run_path(script, run_name='__main__')
        assert e.value.code == 1
        # the tools print the one error line on stderr, then exit 1
        return capsys.readouterr().err.strip().splitlines()[-1]

    out = str(tmp_path / 'm.onnx')
    msg = export(
        nan_ckpt,
        '--out',
        out,
        '--shape',
        '32',
        '32',
        '--check-sizes',
        '32',
        '32',
        '--repeats',
        '1',
    )
    # refused when read, naming the weight (the check tools/test.py uses)
    assert msg == (
        f'error: {nan_ckpt}: weight decode_head.conv_seg.weight '
        '(1 of 48 values NaN or inf): the checkpoint comes from a '
        'run that diverged; use a checkpoint saved before the '
        'divergence'
    )
    msg = export(foreign, '--out', out)
    assert msg.startswith('error: ') and 'does not fit the model' in msg
    missing = str(tmp_path / 'no' / 'such' / 'm.onnx')
    msg = export('--out', missing)
    assert msg == (
        f'error: --out {missing}: folder {osp.dirname(missing)} does not exist'
    )
    assert sorted(os.listdir(tmp_path)) == ['cfg.py', 'foreign.pth', 'nan.pth']


def test_project_layers_trace_without_warnings(tmp_path):
    """The project's own shape checks stay silent while traced (ONNX export
    of DCN printed TracerWarnings from them)."""
    import warnings

    from mmseg_stunet.models.layers.dcn import DeformConvV2

    layer = DeformConvV2(4, 4, 3, padding=1).eval()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        export_onnx_layer(layer, str(tmp_path / 'dcn.onnx'))
    ours = [
        str(w.message) for w in caught if 'mmseg_stunet' in (w.filename or '')
    ]
    assert not ours, ours


def export_onnx_layer(layer, path):
    with torch.no_grad():
        torch.onnx.export(
            layer,
            (torch.randn(1, 4, 9, 9),),
            path,
            dynamo=False,
            opset_version=17,
            input_names=['image'],
            output_names=['out'],
            dynamic_axes=dict(image={2: 'h', 3: 'w'}),
        )


CLASSES = list(ISPRS_CLASSES)
PALETTE = [list(c) for c in ISPRS_PALETTE]


def _export_with_meta(tmp_path):
    model = build('fcn')
    model.dataset_meta = dict(classes=tuple(CLASSES), palette=PALETTE)
    model.test_cfg = dict(mode='slide', crop_size=(32, 32), stride=(24, 24))
    path = str(tmp_path / 'm.onnx')
    wrapper = export_onnx(model, path, 3, (32, 32))
    return model, wrapper, path


def test_metadata_round_trip(tmp_path):
    """The file says which band goes into which channel, the normalisation,
    classes, palette, windows and the version; the project's runner reads
    it back and reports the band order (before: no metadata at all)."""
    import json

    from mmseg_stunet.version import __version__

    model, wrapper, path = _export_with_meta(tmp_path)
    pre = model.data_preprocessor
    expected = dict(
        mmseg_stunet_version=__version__,
        input_channels=3,
        band_order=[3, 2, 1],
        bgr_to_rgb=bool(pre.channel_conversion),
        mean=pre.mean.flatten().tolist(),
        std=pre.std.flatten().tolist(),
        classes=CLASSES,
        palette=PALETTE,
        window=[32, 32],
        stride=[24, 24],
    )
    props = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert {k: json.loads(v) for k, v in props.items()} == expected
    from mmseg_stunet.apis.onnx_export import OnnxSegmentor

    runner = OnnxSegmentor(path)
    assert runner.metadata == expected and runner.band_order == [3, 2, 1]
    assert runner.describe() == (
        f'{path}: input channels = bands 3, 2, 1 of the image file (1-based) '
        '(B, G, R of an RGB file, as mmcv.imread reads it); raw pixels, '
        f'normalised in the graph (mean {expected["mean"]}, std '
        f'{expected["std"]}'
        + (', swapped to RGB in the graph)' if expected['bgr_to_rgb'] else ')')
    )
    img = torch.rand(2, 3, 24, 40) * 255
    with torch.no_grad():
        ref = wrapper(img).numpy()
    assert np.abs(runner(img.numpy()) - ref).max() <= 1e-4


def test_runner_refuses_other_channel_counts_and_missing_metadata(tmp_path):
    from mmseg_stunet.apis.onnx_export import (
        OnnxMetadataError,
        OnnxSegmentor,
        write_onnx_metadata,
    )

    _, _, path = _export_with_meta(tmp_path)
    runner = OnnxSegmentor(path)
    with pytest.raises(OnnxMetadataError) as e:
        runner(np.zeros((1, 4, 8, 8), np.float32))
    msg = str(e.value)
    assert '\n' not in msg
    assert msg.startswith(
        f'{path}: input of shape (1, 4, 8, 8), but the '
        'model takes (N, 3, H, W): input channels = bands '
        '3, 2, 1 of the image file'
    )
    # metadata that contradicts the graph
    write_onnx_metadata(path, dict(input_channels=4, band_order=[1, 2, 3, 4]))
    with pytest.raises(
        OnnxMetadataError,
        match=r'm\.onnx: the graph takes 3 input channels but '
        r'its metadata says 4',
    ):
        OnnxSegmentor(path)
    # a graph exported without the metadata (every file before this)
    model = onnx.load(path)
    del model.metadata_props[:]
    onnx.save(model, path)
    with pytest.raises(OnnxMetadataError) as e:
        OnnxSegmentor(path)
    assert str(e.value) == (
        f'{path}: no mmseg_stunet_version, input_channels, band_order, '
        'bgr_to_rgb, mean, std, classes, palette, window, stride in the ONNX '
        'metadata, so nothing says which image band goes into which input '
        'channel; re-export it with tools/export_onnx.py'
    )


def _reshape_graph(path, window=64):
    """A 3-band graph with the project's metadata that runs only on one
    (1, 3, window, window) input: a Reshape to a fixed shape (what a graph
    exported with dynamic axes but a size baked in does on other sizes)."""
    from onnx import TensorProto, helper

    from mmseg_stunet.apis.onnx_export import write_onnx_metadata

    shape = helper.make_tensor(
        'shape', TensorProto.INT64, [4], [1, 1, window, window]
    )
    graph = helper.make_graph(
        [
            helper.make_node('ReduceMean', ['image'], ['m'], axes=[1]),
            helper.make_node('Reshape', ['m', 'shape'], ['r']),
            helper.make_node('Concat', ['r', 'r'], ['out'], axis=1),
        ],
        'fixed',
        [
            helper.make_tensor_value_info(
                'image', TensorProto.FLOAT, ['n', 3, 'h', 'w']
            )
        ],
        [
            helper.make_tensor_value_info(
                'out', TensorProto.FLOAT, ['n', 2, 'h', 'w']
            )
        ],
        initializer=[shape],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', 17)]
    )
    model.ir_version = 8
    onnx.save(model, path)
    write_onnx_metadata(
        path,
        dict(
            mmseg_stunet_version='0',
            input_channels=3,
            band_order=[1, 2, 3],
            bgr_to_rgb=False,
            mean=None,
            std=None,
            classes=['a', 'b'],
            palette=[[0, 0, 0], [255, 255, 255]],
            window=[window, window],
            stride=[window, window],
        ),
    )
    return path


def _unknown_op_graph(path):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node('NoSuchOp', ['image'], ['out'], domain='nowhere')],
        'unknown',
        [helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info('out', TensorProto.FLOAT, [1, 3])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid('', 17),
            helper.make_opsetid('nowhere', 1),
        ],
    )
    model.ir_version = 8
    onnx.save(model, path)
    return path


def _bad_model_files(root):
    """(name, path, error class, words of the message) of every kind of file
    that is not a model onnxruntime can load."""
    from mmseg_stunet.apis.onnx_export import OnnxModelError

    real = str(root / 'real.onnx')
    _reshape_graph(real)
    with open(real, 'rb') as f:
        blob = f.read()
    files = {
        'empty.onnx': b'',
        'notes.onnx': b'not a model\n',
        'truncated.onnx': blob[: len(blob) // 2],
    }
    for name, data in files.items():
        with open(root / name, 'wb') as f:
            f.write(data)
    torch.save(dict(state_dict={}), str(root / 'ckpt.pth'))
    (root / 'folder.onnx').mkdir()
    cannot = 'onnxruntime cannot load it as a model'
    return [
        (
            'missing',
            str(root / 'none.onnx'),
            FileNotFoundError,
            ['no such ONNX file'],
        ),
        (
            'folder',
            str(root / 'folder.onnx'),
            IsADirectoryError,
            ['a folder, not an ONNX file'],
        ),
        ('empty', str(root / 'empty.onnx'), OnnxModelError, [cannot]),
        ('text', str(root / 'notes.onnx'), OnnxModelError, [cannot]),
        ('checkpoint', str(root / 'ckpt.pth'), OnnxModelError, [cannot]),
        ('truncated', str(root / 'truncated.onnx'), OnnxModelError, [cannot]),
        (
            'unknown op',
            _unknown_op_graph(str(root / 'op.onnx')),
            OnnxModelError,
            [cannot, 'NoSuchOp'],
        ),
    ]


def test_runner_refuses_files_onnxruntime_cannot_load(tmp_path):
    """Every kind of non-model file stops in one line naming it (before:
    onnxruntime's own exceptions, which derive from ``Exception`` only, went
    past the tools' error handling as tracebacks)."""
    from mmseg_stunet.apis.backends import OnnxBackend

    for name, path, error, words in _bad_model_files(tmp_path):
        with pytest.raises(error) as e:
            OnnxBackend(path)
        msg = str(e.value)
        assert msg.startswith(f'{path}: ') and '\n' not in msg, (name, msg)
        for word in words:
            assert word in msg, (name, msg)


def test_runner_reports_a_graph_that_fails_to_run(tmp_path):
    from mmseg_stunet.apis.onnx_export import OnnxModelError, OnnxSegmentor

    path = _reshape_graph(str(tmp_path / 'fixed.onnx'))
    runner = OnnxSegmentor(path)
    assert runner(np.zeros((1, 3, 64, 64), np.float32)).shape == (
        1,
        2,
        64,
        64,
    )
    with pytest.raises(OnnxModelError) as e:
        runner(np.zeros((1, 3, 48, 48), np.float32))
    msg = str(e.value)
    assert (
        msg.startswith(
            f'{path}: onnxruntime failed on a (1, 3, 48, 48) input ('
        )
        and '\n' not in msg
    ), msg


def test_predict_cli_stops_in_one_line_on_a_bad_model(
    tmp_path, monkeypatch, capsys
):
    """tools/predict.py --backend onnxruntime: a file that is no model, and
    a graph that fails on the scene's windows, in one process and with
    --manifest (the batch runner): exit 1, one ``error:`` line naming the
    file, no traceback, no output."""
    pytest.importorskip('rasterio')
    from helpers import write_geotiff

    from mmseg_stunet.apis.onnx_export import OnnxModelError
    from mmseg_stunet.testing import smooth_scene

    src = write_geotiff(tmp_path / 'scene.tif', smooth_scene(100, 130))
    script = osp.join(ROOT, 'tools', 'predict.py')
    # the tool's own check names a missing file or a folder its own way
    cases = [
        (name, path, [] if error is not OnnxModelError else words)
        for name, path, error, words in _bad_model_files(tmp_path)
    ]
    fixed = _reshape_graph(str(tmp_path / 'fixed.onnx'))
    cases.append(('fails to run', fixed, ['failed on a', 'input']))
    for name, path, words in cases:
        for batch in ([], ['--manifest', str(tmp_path / 'm.jsonl')]):
            out = tmp_path / 'out'
            argv = [
                'predict.py',
                '--backend',
                'onnxruntime',
                '--onnx',
                path,
                src,
                '--out-dir',
                str(out),
                '--window',
                '48',
                '--no-progress',
                *batch,
            ]
            monkeypatch.setattr(sys, 'argv', argv)
            with pytest.raises(SystemExit) as e:
                runpy.run_path(script, run_name='__main__')
            err = capsys.readouterr().err
            assert e.value.code == 1, (name, batch, err)
            assert 'Traceback' not in err, (name, batch, err)
            lines = [ln for ln in err.splitlines() if 'error:' in ln]
            assert len(lines) == 1 and path in lines[0], (name, batch, err)
            for word in words:
                assert word in err, (name, batch, err)
            scenes = (
                [p.name for p in out.iterdir() if p.suffix == '.tif']
                if out.exists()
                else []
            )
            assert scenes == [], (name, batch, scenes)
