"""DeformConvV2 (DCNv2) layer and its back-ends.

The pure-PyTorch back-end is checked against mmcv's compiled op (outputs and
the gradients for input, offset, mask, weight and bias), against
``F.conv2d`` at initialisation (zero offsets), by ``gradcheck``, under
autocast, through ``torch.jit.trace`` and ONNX, and inside MMSegmentation's
ResNet.
"""

import io

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmseg_stunet.models.layers import dcn as dcn_module
from mmseg_stunet.models.layers.dcn import (
    DeformConvV2,
    modulated_deform_conv2d,
    resolve_backend,
)
from mmseg_stunet.models.layers.deform_conv_torch import (
    modulated_deform_conv2d_torch,
)
from mmseg_stunet.utils.paths import config_path

mmcv_ops = pytest.importorskip('mmcv.ops')

# (batch, C_in, C_out, H, W, kernel, stride, padding, dilation, groups,
#  deform_groups, bias)
CASES = {
    'basic': (2, 4, 6, 7, 9, 3, 1, 1, 1, 1, 1, True),
    'stride2': (2, 4, 6, 9, 8, 3, 2, 1, 1, 1, 1, True),
    'dilation2': (3, 4, 4, 10, 7, 3, 1, 2, 2, 1, 1, False),
    'groups2': (2, 4, 6, 6, 8, 3, 1, 1, 1, 2, 1, True),
    'deform_groups2': (2, 6, 4, 8, 6, 3, 1, 1, 1, 1, 2, True),
    'mixed_1x3': (2, 8, 4, 5, 11, (1, 3), (1, 2), (0, 1), (1, 2), 2, 4, True),
}


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def make_case(name, dtype, offset_scale=3.0, seed=0):
    """Random inputs for CASES[name]; offsets of a few pixels push many
    sampling points beyond the map."""
    b, cin, cout, h, w, k, s, p, d, g, dg, bias = CASES[name]
    (kh, kw), s, p, d = _pair(k), _pair(s), _pair(p), _pair(d)
    ho = (h + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1
    wo = (w + 2 * p[1] - d[1] * (kw - 1) - 1) // s[1] + 1
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0):
        return (
            torch.randn(*shape, generator=gen, dtype=dtype) * scale
        ).requires_grad_()

    x = rand(b, cin, h, w)
    offset = rand(b, 2 * dg * kh * kw, ho, wo, scale=offset_scale)
    mask = torch.rand(
        b, dg * kh * kw, ho, wo, generator=gen, dtype=dtype
    ).requires_grad_()
    weight = rand(cout, cin // g, kh, kw)
    b_ = rand(cout) if bias else None
    return (x, offset, mask, weight, b_), dict(
        stride=s, padding=p, dilation=d, groups=g, deform_groups=dg
    )


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


def outputs_and_grads(fn, tensors, kwargs, seed=1):
    out = fn(*tensors, **kwargs)
    # drawn in float64 whatever the dtype: every dtype gets the same values
    grad = torch.randn(
        out.shape,
        generator=torch.Generator().manual_seed(seed),
        dtype=torch.float64,
    ).to(out.device, out.dtype)
    inputs = [t for t in tensors if t is not None]
    return [out.detach()] + list(torch.autograd.grad(out, inputs, grad))


@pytest.mark.parametrize(
    'dtype,tol', [(torch.float32, 1e-4), (torch.float64, 1e-10)]
)
@pytest.mark.parametrize('name', list(CASES))
def test_torch_backend_matches_mmcv(name, dtype, tol):
    tensors, kw = make_case(name, dtype)
    ours = outputs_and_grads(modulated_deform_conv2d_torch, tensors, kw)
    ref = outputs_and_grads(
        lambda *t, **k: mmcv_ops.modulated_deform_conv2d(*t, *k.values()),
        tensors,
        kw,
    )
    labels = ['output', 'input', 'offset', 'mask', 'weight', 'bias']
    for label, a, b in zip(labels, ours, ref):
        assert a.shape == b.shape, label
        assert rel_err(a, b) <= tol, f'{name} {label}: {rel_err(a, b):.2e}'
    # The cases do exercise points outside the map.
    x, offset = tensors[0], tensors[1]
    assert offset.abs().max() > max(x.shape[2:]) / 2


@pytest.mark.parametrize('fast_mode', [True, False])
def test_gradcheck_float64(fast_mode):
    """Tiny case with two deform groups and two conv groups, offsets that
    leave the 3x4 map; the full Jacobian (fast_mode=False) on fewer
    inputs."""
    gen = torch.Generator().manual_seed(3)

    def rand(*shape, scale=1.0):
        return (
            torch.randn(*shape, generator=gen, dtype=torch.float64) * scale
        ).requires_grad_()

    x = rand(1, 4, 3, 4)
    offset = rand(1, 2 * 2 * 4, 4, 2, scale=1.5)  # output 4x2
    mask = torch.rand(
        1, 2 * 4, 4, 2, generator=gen, dtype=torch.float64
    ).requires_grad_()
    weight, bias = rand(2, 2, 2, 2), rand(2)
    kw = dict(
        stride=1, padding=(1, 0), dilation=(1, 2), groups=2, deform_groups=2
    )
    inputs = (x, offset, mask, weight, bias)
    if not fast_mode:  # small full Jacobian: offsets and mask of one group
        inputs = (
            x.detach(),
            offset[:, :8].detach().requires_grad_(),
            mask[:, :4].detach().requires_grad_(),
            weight.detach(),
            bias.detach(),
        )
        rest_off, rest_mask = offset[:, 8:].detach(), mask[:, 4:].detach()

        def fn(x, o, m, w, b):
            return modulated_deform_conv2d_torch(
                x,
                torch.cat((o, rest_off), 1),
                torch.cat((m, rest_mask), 1),
                w,
                b,
                **kw,
            )
    else:

        def fn(*t):
            return modulated_deform_conv2d_torch(*t, **kw)

    assert torch.autograd.gradcheck(fn, inputs, fast_mode=fast_mode)


@pytest.mark.parametrize(
    'name', ['basic', 'stride2', 'dilation2', 'groups2', 'mixed_1x3']
)
def test_fresh_layer_is_half_a_conv(name):
    """Zero-initialised offsets: DCNv2 = conv with a 0.5 mask (independent
    reference: F.conv2d)."""
    _, cin, cout, h, w, k, s, p, d, g, dg, bias = CASES[name]
    layer = DeformConvV2(cin, cout, k, s, p, d, g, dg, bias, backend='torch')
    assert not layer.conv_offset.weight.any()
    x = torch.randn(2, cin, h, w)
    ref = F.conv2d(x, layer.weight * 0.5, None, s, p, d, g)
    if bias:
        ref = ref + layer.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(layer(x), ref, rtol=1e-5, atol=1e-5)


def test_layer_matches_mmcv_pack_and_checkpoints_move_both_ways():
    torch.manual_seed(0)
    ref = mmcv_ops.ModulatedDeformConv2dPack(8, 6, 3, 2, 1, 1, 2, 2)
    ours = DeformConvV2(8, 6, 3, 2, 1, 1, 2, 2, backend='torch')
    assert (
        list(ref.state_dict())
        == list(ours.state_dict())
        == ['weight', 'bias', 'conv_offset.weight', 'conv_offset.bias']
    )
    nn.init.normal_(ref.conv_offset.weight, std=0.3)
    nn.init.normal_(ref.bias)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 8, 9, 10)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-5)
    nn.init.normal_(ours.conv_offset.weight, std=0.2)
    ref.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-5)
    # through a file, inside a parent module, with the versioned metadata
    parent, twin = (
        nn.Sequential(ours),
        nn.Sequential(DeformConvV2(8, 6, 3, 2, 1, 1, 2, 2)),
    )
    buf = io.BytesIO()
    torch.save(parent.state_dict(), buf)
    buf.seek(0)
    twin.load_state_dict(torch.load(buf))
    torch.testing.assert_close(twin(x), parent(x))


def test_build_conv_layer_with_and_without_default_scope():
    from mmcv.cnn import build_conv_layer
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS

    layer = build_conv_layer(dict(type='DeformConvV2'), 8, 8, 3, padding=1)
    assert isinstance(layer, DeformConvV2) and layer.padding == (1, 1)
    with DefaultScope.overwrite_default_scope('mmseg'):
        layer = build_conv_layer(
            dict(type='DeformConvV2', deform_groups=2), 8, 4, 3, stride=2
        )
        assert isinstance(layer, DeformConvV2)
        assert layer.deform_groups == 2 and layer.stride == (2, 2)
    assert isinstance(
        MODELS.build(
            dict(
                type='DeformConvV2',
                in_channels=4,
                out_channels=4,
                kernel_size=3,
            )
        ),
        DeformConvV2,
    )


def test_backend_selection_and_errors():
    cpu = torch.device('cpu')
    assert resolve_backend('auto', cpu) == 'torch'
    assert resolve_backend('mmcv', cpu) == 'mmcv'
    with pytest.raises(ValueError, match="'bogus'"):
        DeformConvV2(4, 4, 3, backend='bogus')
    if dcn_module._torchvision_op() is None:
        with pytest.raises(RuntimeError, match='torchvision'):
            DeformConvV2(4, 4, 3, backend='torchvision')(
                torch.randn(1, 4, 5, 5)
            )
    tensors, kw = make_case('basic', torch.float32)
    x, offset, mask, weight, bias = tensors
    with pytest.raises(ValueError, match=r'offset must have shape'):
        modulated_deform_conv2d(x, offset[:, :-1], mask, weight, bias, **kw)
    with pytest.raises(ValueError, match=r'mask must have shape'):
        modulated_deform_conv2d(x, offset, mask[..., :-1], weight, bias, **kw)
    with pytest.raises(ValueError, match=r'too small'):
        modulated_deform_conv2d_torch(x[..., :1, :1], offset, mask, weight)


@pytest.mark.parametrize('fresh', [True, False])
def test_mmcv_backend_of_the_layer_agrees_with_torch_backend(fresh):
    """Also at zero offsets, where padding taps sit exactly on -1 and the
    offset gradient depends on mmcv's border convention."""
    torch.manual_seed(0)
    a = DeformConvV2(6, 6, 3, padding=1, deform_groups=2, backend='torch')
    if not fresh:
        nn.init.normal_(a.conv_offset.weight, std=0.3)
    b = DeformConvV2(6, 6, 3, padding=1, deform_groups=2, backend='mmcv')
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 6, 8, 8, requires_grad=True)
    ya, yb = a(x), b(x)
    torch.testing.assert_close(ya, yb, rtol=1e-4, atol=1e-5)
    ga = torch.autograd.grad(ya.square().sum(), [x, a.conv_offset.weight])
    gb = torch.autograd.grad(yb.square().sum(), [x, b.conv_offset.weight])
    for u, v in zip(ga, gb):
        assert rel_err(u, v) < 1e-4


@pytest.mark.skipif(
    dcn_module._torchvision_op() is None, reason='torchvision not installed'
)
def test_torchvision_backend_matches_torch_backend():
    tensors, kw = make_case('deform_groups2', torch.float32)
    ours = outputs_and_grads(modulated_deform_conv2d_torch, tensors, kw)
    tv = outputs_and_grads(
        lambda *t, **k: modulated_deform_conv2d(
            *t, **k, backend='torchvision'
        ),
        tensors,
        kw,
    )
    for a, b in zip(ours, tv):
        assert rel_err(a, b) < 1e-4


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_autocast_cpu(dtype):
    torch.manual_seed(0)
    layer = DeformConvV2(8, 8, 3, padding=1, backend='torch')
    nn.init.normal_(layer.conv_offset.weight, std=0.2)
    x = torch.randn(2, 8, 12, 10, requires_grad=True)
    ref = layer(x)
    with torch.autocast('cpu', dtype=dtype):
        out = layer(x)
    assert out.dtype == dtype
    assert rel_err(out.float(), ref) < 3e-2
    out.float().square().sum().backward()
    for p in (x, layer.weight, layer.conv_offset.weight):
        assert p.grad is not None and torch.isfinite(p.grad).all()
    assert layer.conv_offset.weight.grad.abs().sum() > 0


def test_half_precision_module_without_autocast():
    torch.manual_seed(0)
    layer = DeformConvV2(4, 4, 3, padding=1)
    nn.init.normal_(layer.conv_offset.weight, std=0.2)
    x = torch.randn(1, 4, 6, 6)
    out = layer.to(torch.bfloat16)(x.to(torch.bfloat16))
    assert out.dtype == torch.bfloat16
    assert rel_err(out.float(), layer.float()(x)) < 3e-2


def test_jit_trace_and_onnx_export(tmp_path):
    torch.manual_seed(0)
    layer = DeformConvV2(4, 6, 3, padding=1, deform_groups=2).eval()
    nn.init.normal_(layer.conv_offset.weight, std=0.3)
    x = torch.randn(2, 4, 9, 7)
    ref = layer(x)
    traced = torch.jit.trace(layer, x)
    torch.testing.assert_close(traced(x), ref, rtol=1e-5, atol=1e-5)
    x2 = torch.randn(2, 4, 9, 7)
    torch.testing.assert_close(traced(x2), layer(x2), rtol=1e-5, atol=1e-5)

    ort = pytest.importorskip('onnxruntime')
    path = str(tmp_path / 'dcn.onnx')
    torch.onnx.export(
        layer,
        (x,),
        path,
        input_names=['x'],
        output_names=['y'],
        opset_version=17,
        dynamo=False,
    )
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    (y,) = sess.run(None, {'x': x2.numpy()})
    torch.testing.assert_close(
        torch.from_numpy(y), layer(x2), rtol=1e-4, atol=1e-5
    )


def test_mmseg_resnet_with_dcn_trains_one_step():
    """MMSegmentation's own ResNet, DCN in stages 2-4, one SGD step."""
    from mmseg.models.backbones import ResNet

    torch.manual_seed(0)
    net = ResNet(
        depth=50,
        stem_channels=8,
        base_channels=8,
        num_stages=4,
        zero_init_residual=False,  # else no gradient reaches conv2 in step 1
        dcn=dict(
            type='DeformConvV2', deform_groups=1, fallback_on_stride=False
        ),
        stage_with_dcn=(False, True, True, True),
    )
    net.init_weights()
    dcns = [m for m in net.modules() if isinstance(m, DeformConvV2)]
    assert len(dcns) == 4 + 6 + 3  # the conv2 of every bottleneck, stages 2-4
    assert all(not m.conv_offset.weight.any() for m in dcns)
    assert not any(isinstance(m.conv2, DeformConvV2) for m in net.layer1)
    x = torch.randn(2, 3, 32, 32)
    outs = net(x)
    assert [tuple(o.shape) for o in outs] == [
        (2, 32, 8, 8),
        (2, 64, 4, 4),
        (2, 128, 2, 2),
        (2, 256, 1, 1),
    ]
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    before = [m.conv_offset.weight.detach().clone() for m in dcns]
    sum(o.square().mean() for o in outs).backward()
    for m in dcns:
        assert m.conv_offset.weight.grad.abs().sum() > 0
        assert m.weight.grad.abs().sum() > 0
    opt.step()
    assert all(
        not torch.equal(b, m.conv_offset.weight) for b, m in zip(before, dcns)
    )
    outs2 = net(x)
    assert all(torch.isfinite(o).all() for o in outs2)


def test_config_builds_and_trains_dcn_deeplabv3plus():
    """The R-50-DCN DeepLabV3+ config: 13 DCNs, two optimiser steps (the
    first one reaches the blocks' last norms, zero-initialised in mmseg's
    ResNet; the second the DCNs and their offset branches)."""
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper
    from mmengine.registry import init_default_scope
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample

    cfg = Config.fromfile(
        config_path(
            'deeplabv3plus',
            'deeplabv3plus_r50-d8-dcn_1xb8-100e_vaihingen-256x256.py',
        )
    )
    assert cfg.model.backbone.dcn.type == 'DeformConvV2'
    init_default_scope('mmseg')
    bn = dict(type='BN', requires_grad=True)  # SyncBN needs a process group
    cfg.model.backbone.norm_cfg = bn
    cfg.model.decode_head.norm_cfg = bn
    cfg.model.auxiliary_head.norm_cfg = bn
    cfg.model.data_preprocessor.size = (32, 32)
    model = MODELS.build(cfg.model)  # (init_weights: see the ResNet test)
    dcns = [m for m in model.backbone.modules() if isinstance(m, DeformConvV2)]
    assert len(dcns) == 13
    assert all(not m.conv_offset.weight.any() for m in dcns)
    # stages 3 and 4 of R-50-D8 are dilated: the DCNs keep that geometry
    assert {m.dilation for m in dcns} == {(1, 1), (2, 2), (4, 4)}

    gen = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(2):
        inputs.append(
            torch.randint(
                0, 256, (3, 32, 32), dtype=torch.uint8, generator=gen
            )
        )
        sample = SegDataSample(
            gt_sem_seg=PixelData(
                data=torch.randint(0, 6, (1, 32, 32), generator=gen)
            )
        )
        sample.set_metainfo(
            dict(img_shape=(32, 32), ori_shape=(32, 32), pad_shape=(32, 32))
        )
        samples.append(sample)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    params = (
        model.decode_head.conv_seg.weight,
        dcns[0].weight,
        dcns[-1].conv_offset.weight,
    )
    before = [p.detach().clone() for p in params]
    for _ in range(2):
        losses = model.train_step(
            dict(inputs=inputs, data_samples=samples), optim
        )
        assert {'decode.loss_ce', 'decode.loss_dice', 'aux.loss_ce'} <= set(
            losses
        )
        assert all(torch.isfinite(v) for v in losses.values())
    assert all(not torch.equal(b, p) for b, p in zip(before, params))


@pytest.fixture
def no_tf32(monkeypatch):
    """float32 convolutions and matrix products in full float32 on the GPU
    (cuDNN's default TF32 keeps 10 mantissa bits: errors of about 3e-4)."""
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', False)
    monkeypatch.setattr(torch.backends.cuda.matmul, 'allow_tf32', False)


@pytest.mark.cuda
@pytest.mark.usefixtures('no_tf32')
def test_cuda_torch_backend_matches_mmcv_or_cpu():
    tensors, kw = make_case('deform_groups2', torch.float32)
    ref = outputs_and_grads(modulated_deform_conv2d_torch, tensors, kw)
    dev = [
        t.detach().cuda().requires_grad_() if t is not None else None
        for t in tensors
    ]
    ours = outputs_and_grads(modulated_deform_conv2d_torch, dev, kw)
    for a, b in zip(ours, ref):
        assert rel_err(a.cpu(), b) < 1e-4
    if dcn_module._available('mmcv', torch.device('cuda')) is None:
        assert resolve_backend('auto', torch.device('cuda')) == 'mmcv'
        mm = outputs_and_grads(
            lambda *t, **k: modulated_deform_conv2d(*t, **k, backend='mmcv'),
            dev,
            kw,
        )
        for a, b in zip(mm, ref):
            assert rel_err(a.cpu(), b) < 1e-4


@pytest.mark.cuda
def test_cuda_layer_under_autocast():
    layer = DeformConvV2(8, 8, 3, padding=1).cuda()
    nn.init.normal_(layer.conv_offset.weight, std=0.2)
    x = torch.randn(2, 8, 12, 10, device='cuda', requires_grad=True)
    ref = layer(x)
    with torch.autocast('cuda', dtype=torch.float16):
        out = layer(x)
    assert rel_err(out.float(), ref) < 3e-2
    out.float().sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize('backend', ['torch', 'mmcv'])
def test_empty_batch_forward_and_backward(backend):
    """A batch of size 0 gives an empty result and zero gradients, as
    nn.Conv2d does."""
    torch.manual_seed(0)
    layer = DeformConvV2(4, 6, 3, padding=1, backend=backend)
    x = torch.randn(0, 4, 9, 7, requires_grad=True)
    out = layer(x)
    assert out.shape == (0, 6, 9, 7)
    out.sum().backward()
    assert x.grad.shape == x.shape
    for name, p in layer.named_parameters():
        assert p.grad is not None and not p.grad.any(), name
    ref = nn.Conv2d(4, 6, 3, padding=1)(torch.randn(0, 4, 9, 7))
    assert ref.shape == out.shape


def test_output_keeps_the_input_memory_format():
    """Channels-last in, channels-last out (a channels-last model stays
    so); contiguous in, contiguous out; the same values."""
    torch.manual_seed(0)
    layer = DeformConvV2(8, 6, 3, padding=1, backend='torch')
    nn.init.normal_(layer.conv_offset.weight, std=0.1)
    x = torch.randn(2, 8, 7, 9)
    ref = layer(x)
    assert ref.is_contiguous()
    got = layer(x.contiguous(memory_format=torch.channels_last))
    assert got.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.e2e  # compiling takes about 30 s on 2 cores
def test_torch_compile_fullgraph_forward_and_backward():
    """The layer compiles as one graph (the hand-written gather, whose
    backward sizes its CSR matrix from the data, is left out of compiled
    graphs) and gives the eager result and gradients."""
    torch.manual_seed(0)
    layer = DeformConvV2(8, 8, 3, padding=1, backend='torch')
    nn.init.normal_(layer.conv_offset.weight, std=0.1)
    x = torch.randn(2, 8, 9, 11, requires_grad=True)
    compiled = torch.compile(layer, fullgraph=True)
    out = compiled(x)
    out.square().sum().backward()
    grads = [x.grad] + [p.grad for p in layer.parameters()]
    x.grad = None
    layer.zero_grad()
    ref = layer(x)
    ref.square().sum().backward()
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
    for got, want in zip(
        grads, [x.grad] + [p.grad for p in layer.parameters()]
    ):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


# every back-end on the GPU against the CPU kernel in float64, forward and
# the gradients of input, offset, mask, weight and bias; under autocast the
# compiled ops run in float32 and the torch kernel multiplies in half
# precision (hence its looser bounds)
@pytest.mark.cuda
@pytest.mark.usefixtures('no_tf32')
@pytest.mark.parametrize(
    'dtype,tol',
    [(torch.float32, 1e-4), (torch.float16, 1e-2), (torch.bfloat16, 5e-2)],
)
@pytest.mark.parametrize('backend', ['torch', 'torchvision', 'mmcv'])
@pytest.mark.parametrize('name', ['basic', 'deform_groups2', 'mixed_1x3'])
def test_cuda_backends_match_the_cpu_kernel(name, backend, dtype, tol):
    device = torch.device('cuda')
    reason = dcn_module._available(backend, device)
    if reason is not None:
        pytest.skip(f'{backend} on CUDA: {reason}')
    tensors, kw = make_case(name, torch.float64)
    ref = outputs_and_grads(modulated_deform_conv2d_torch, tensors, kw)
    dev = [
        None if t is None else t.detach().float().cuda().requires_grad_()
        for t in tensors
    ]

    def run(*t, **k):
        return modulated_deform_conv2d(*t, **k, backend=backend)

    with torch.autocast('cuda', dtype=dtype, enabled=dtype != torch.float32):
        got = outputs_and_grads(run, dev, kw)
    labels = ['output', 'input', 'offset', 'mask', 'weight', 'bias']
    compiled = backend != 'torch'
    bound = 1e-4 if compiled else tol  # compiled ops: float32 throughout
    for label, a, b in zip(labels, got, ref):
        assert a.device.type == 'cuda' and a.shape == b.shape, label
        err = rel_err(a.double().cpu(), b)
        assert err <= bound, f'{backend} {dtype} {name} {label}: {err:.2e}'
