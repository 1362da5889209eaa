"""VainF DeepLabV3/V3+ inside MMSegmentation: heads, configs, converter.

The reference model below is written here from the published description of
VainF/DeepLabV3Plus-Pytorch (torchvision ResNet with
``replace_stride_with_dilation``, ``DeepLabHead``/``DeepLabHeadV3Plus``,
``convert_to_separable_conv``); its state dict has VainF's key names.
"""

import argparse
import importlib.util
import os
import os.path as osp
import shutil

import mmcv
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from helpers import checksums
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmseg.apis import inference_model, init_model
from mmseg.registry import MODELS

import mmseg_stunet  # noqa: F401
from mmseg_stunet.converters.vainf import (
    VainFConversionError,
    convert_vainf_checkpoint,
    convert_vainf_state_dict,
    inspect_vainf_state,
)
from mmseg_stunet.utils.paths import config_path, project_root

ROOT = project_root()
CONFIGS = config_path('vainf')
SUFFIX = '_4xb4-30k_voc12aug-513x513.py'


def convert(src, dst, **kwargs):
    """The converter, picking configs from configs/vainf as the tool does."""
    return convert_vainf_checkpoint(src, dst, config_dir=CONFIGS, **kwargs)


# ---- reference: VainF's model, rebuilt from its description ----
class Bottleneck(nn.Module):
    """torchvision Bottleneck: stride and dilation on the 3x3 conv."""

    def __init__(
        self, inplanes, planes, stride=1, downsample=None, dilation=1
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(
            planes, planes, 3, stride, dilation, dilation, bias=False
        )
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(
            y + (x if self.downsample is None else self.downsample(x))
        )


class TorchvisionResNet(nn.Module):
    """torchvision ResNet without avgpool/fc; returns layer1 and layer4."""

    def __init__(self, blocks, replace_stride_with_dilation):
        super().__init__()
        self.inplanes, self.dilation = 64, 1
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        dilate = [False] + list(replace_stride_with_dilation)
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), blocks)):
            setattr(
                self,
                f'layer{i + 1}',
                self._make_layer(planes, n, 1 if i == 0 else 2, dilate[i]),
            )

    def _make_layer(self, planes, n, stride, dilate):
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False),
                nn.BatchNorm2d(planes * 4),
            )
        layers = [
            Bottleneck(
                self.inplanes, planes, stride, downsample, previous_dilation
            )
        ]
        self.inplanes = planes * 4
        layers += [
            Bottleneck(self.inplanes, planes, dilation=self.dilation)
            for _ in range(1, n)
        ]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        low = self.layer1(x)
        return dict(
            low_level=low, out=self.layer4(self.layer3(self.layer2(low)))
        )


def conv_bn_relu(cin, cout, k, dilation=1):
    return [
        nn.Conv2d(
            cin,
            cout,
            k,
            padding=dilation if k > 1 else 0,
            dilation=dilation,
            bias=False,
        ),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    ]


class ASPPPooling(nn.Sequential):
    def forward(self, x):
        return F.interpolate(
            super().forward(x),
            x.shape[2:],
            mode='bilinear',
            align_corners=False,
        )


class ASPP(nn.Module):
    def __init__(self, cin, rates):
        super().__init__()
        self.convs = nn.ModuleList(
            [nn.Sequential(*conv_bn_relu(cin, 256, 1))]
            + [nn.Sequential(*conv_bn_relu(cin, 256, 3, r)) for r in rates]
            + [
                ASPPPooling(
                    nn.AdaptiveAvgPool2d(1), *conv_bn_relu(cin, 256, 1)
                )
            ]
        )
        self.project = nn.Sequential(
            *conv_bn_relu(1280, 256, 1), nn.Dropout(0.1)
        )

    def forward(self, x):
        return self.project(torch.cat([conv(x) for conv in self.convs], 1))


class DeepLabHeadV3Plus(nn.Module):
    def __init__(self, num_classes, rates):
        super().__init__()
        self.project = nn.Sequential(*conv_bn_relu(256, 48, 1))
        self.aspp = ASPP(2048, rates)
        self.classifier = nn.Sequential(
            *conv_bn_relu(304, 256, 3), nn.Conv2d(256, num_classes, 1)
        )

    def forward(self, feats):
        low = self.project(feats['low_level'])
        out = F.interpolate(
            self.aspp(feats['out']),
            low.shape[2:],
            mode='bilinear',
            align_corners=False,
        )
        return self.classifier(torch.cat([low, out], 1))


class DeepLabHead(nn.Module):
    def __init__(self, num_classes, rates):
        super().__init__()
        self.classifier = nn.Sequential(
            ASPP(2048, rates),
            *conv_bn_relu(256, 256, 3),
            nn.Conv2d(256, num_classes, 1),
        )

    def forward(self, feats):
        return self.classifier(feats['out'])


class AtrousSeparableConvolution(nn.Module):
    def __init__(self, conv):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(
                conv.in_channels,
                conv.in_channels,
                conv.kernel_size,
                conv.stride,
                conv.padding,
                conv.dilation,
                groups=conv.in_channels,
                bias=conv.bias is not None,
            ),
            nn.Conv2d(
                conv.in_channels,
                conv.out_channels,
                1,
                bias=conv.bias is not None,
            ),
        )

    def forward(self, x):
        return self.body(x)


def convert_to_separable_conv(module):
    for name, child in module.named_children():
        if isinstance(child, nn.Conv2d) and child.kernel_size[0] > 1:
            setattr(module, name, AtrousSeparableConvolution(child))
        else:
            convert_to_separable_conv(child)
    return module


class VainFModel(nn.Module):
    def __init__(
        self,
        arch='deeplabv3plus',
        depth=50,
        output_stride=16,
        num_classes=21,
        separable=False,
    ):
        super().__init__()
        blocks = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}[depth]
        dilation, rates = {
            16: ([False, False, True], (6, 12, 18)),
            8: ([False, True, True], (12, 24, 36)),
        }[output_stride]
        self.backbone = TorchvisionResNet(blocks, dilation)
        head = DeepLabHeadV3Plus if arch == 'deeplabv3plus' else DeepLabHead
        self.classifier = head(num_classes, rates)
        if separable:
            convert_to_separable_conv(self.classifier)

    def forward(self, x):
        logits = self.classifier(self.backbone(x))
        return F.interpolate(
            logits, x.shape[2:], mode='bilinear', align_corners=False
        )


def randomize(model, seed=0):
    """Random weights and BN statistics that keep activations O(1)."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.weight[0].numel()
            m.weight.data = (
                torch.randn(m.weight.shape, generator=gen)
                * (2 / fan_in) ** 0.5
            )
            if m.bias is not None:
                m.bias.data = torch.randn(m.bias.shape, generator=gen) * 0.1
        elif isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = torch.rand(c, generator=gen) * 0.5 + 0.5
            m.bias.data = torch.randn(c, generator=gen) * 0.1
            m.running_mean = torch.randn(c, generator=gen) * 0.1
            m.running_var = torch.rand(c, generator=gen) + 0.5
            m.num_batches_tracked.fill_(1000)
    return model.eval()


def save_vainf(model, path):
    """VainF's main.py checkpoint layout."""
    torch.save(
        dict(
            cur_itrs=30000,
            model_state=model.state_dict(),
            optimizer_state=dict(state={}, param_groups=[]),
            scheduler_state=dict(last_epoch=30000, max_iters=30000),
            best_score=np.float64(0.772),
        ),
        path,
    )


def build_converted(ckpt, config):
    cfg = Config.fromfile(config)
    cfg.model.pop('pretrained', None)
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    load_checkpoint(model, ckpt, map_location='cpu', strict=True)
    return model.eval()


def mmseg_logits(model, x):
    metas = [dict(img_shape=x.shape[2:], ori_shape=x.shape[2:])]
    return model.encode_decode(x, metas)


@pytest.fixture(scope='module')
def r50_plus(tmp_path_factory):
    """A VainF DeepLabV3+ ResNet-50 checkpoint (21 classes)."""
    path = tmp_path_factory.mktemp('vainf') / 'best_deeplabv3plus_r50.pth'
    save_vainf(randomize(VainFModel()), str(path))
    return str(path)


# ---- conversion gives the same logits ----
@pytest.mark.parametrize('output_stride, size', [(16, 513), (8, 321)])
def test_converted_deeplabv3plus_r50_matches_vainf(
    r50_plus, tmp_path, output_stride, size
):
    """Equal logits at VainF's 513 crop (OS 16) and at an odd 321 (OS 8,
    four times the compute per pixel)."""
    dst = str(tmp_path / f'r50_os{output_stride}.pth')
    dst, config = convert(r50_plus, dst, output_stride=output_stride)
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert ckpt['meta']['vainf']['best_score'] == pytest.approx(0.772)
    assert ckpt['meta']['output_stride'] == output_stride
    cfg = Config.fromfile(config)
    assert cfg.model.decode_head.dilations == (
        (6, 12, 18) if output_stride == 16 else (12, 24, 36)
    )

    ref = VainFModel(output_stride=output_stride)
    ref.load_state_dict(
        torch.load(r50_plus, map_location='cpu', weights_only=False)[
            'model_state'
        ]
    )
    ref.eval()
    model = build_converted(dst, config)
    x = torch.randn(
        1, 3, size, size, generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        expected = ref(x)
        got = mmseg_logits(model, x)
    assert got.shape == expected.shape == (1, 21, size, size)
    assert expected.std() > 0.1  # a comparison of non-trivial logits
    assert (got - expected).abs().max() <= 1e-4


@pytest.mark.parametrize(
    'arch,separable,output_stride',
    [
        ('deeplabv3plus', True, 16),
        ('deeplabv3', False, 8),
    ],
)
def test_other_vainf_models_convert(tmp_path, arch, separable, output_stride):
    ref = randomize(
        VainFModel(arch, 50, output_stride, separable=separable), seed=2
    )
    src = str(tmp_path / f'best_{arch}_resnet50_voc_os{output_stride}.pth')
    save_vainf(ref, src)
    info = inspect_vainf_state(ref.state_dict())
    assert (info.arch, info.depth, info.separable, info.num_classes) == (
        arch,
        50,
        separable,
        21,
    )

    dst, config = convert(src, str(tmp_path / 'out.pth'))
    # MMSegmentation's own inference path: file -> BGR -> RGB, mean/std
    model = init_model(config, dst, device='cpu')
    assert model.decode_head.separable is separable
    assert model.dataset_meta['classes'][:2] == ('background', 'aeroplane')
    img = np.random.default_rng(3).integers(0, 256, (57, 71, 3), np.uint8)
    path = str(tmp_path / 'img.png')
    mmcv.imwrite(img, path)  # BGR on disk
    got = inference_model(model, path).seg_logits.data
    # VainF's input: RGB in [0, 1], ImageNet mean/std
    x = torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1) / 255.0
    x = (
        x - torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    ) / torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    with torch.no_grad():
        expected = ref(x[None])[0]
    assert got.shape == expected.shape == (21, 57, 71)
    assert expected.std() > 0.1
    assert (got - expected).abs().max() <= 1e-4


def test_resnet101_separable_deeplabv3_maps_key_for_key(tmp_path):
    ref = VainFModel('deeplabv3', 101, separable=True)
    src = str(tmp_path / 'best_deeplabv3_resnet101_voc_os16.pth')
    save_vainf(ref, src)
    dst, config = convert(src, str(tmp_path / 'out.pth'))
    cfg = Config.fromfile(config)
    assert cfg.model.backbone.depth == 101
    assert cfg.model.decode_head.separable is True
    assert cfg.load_from == dst and cfg.model.pretrained is None
    state = torch.load(dst, map_location='cpu', weights_only=True)[
        'state_dict'
    ]
    expected = ref.state_dict()
    assert len(state) == len(expected)
    # same tensors, in the same order, under the new names
    for (new, a), (old, b) in zip(state.items(), expected.items()):
        assert torch.equal(a, b), (new, old)
    assert (
        'decode_head.aspp.aspp_modules.3.depthwise_conv.conv.weight' in state
    )
    assert 'backbone.layer3.22.conv3.weight' in state


# ---- refusals ----
def _outputs(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir())


def test_refuses_mobilenet_and_writes_nothing(tmp_path):
    state = {
        'backbone.low_level_features.0.0.weight': torch.zeros(32, 3, 3, 3),
        'backbone.high_level_features.7.conv.0.0.weight': torch.zeros(1),
        'classifier.aspp.project.0.weight': torch.zeros(256, 1280, 1, 1),
        'classifier.classifier.3.weight': torch.zeros(21, 256, 1, 1),
    }
    src = tmp_path / 'best_deeplabv3plus_mobilenet_voc_os16.pth'
    torch.save(dict(model_state=state), src)
    with pytest.raises(VainFConversionError, match='MobileNet'):
        convert(str(src), str(tmp_path / 'out.pth'))
    # objects beyond tensors and numbers are loaded only when trusted
    torch.save(dict(model_state=state, opts=argparse.Namespace(lr=0.01)), src)
    with pytest.raises(VainFConversionError, match='--trust'):
        convert(str(src), str(tmp_path / 'out.pth'))
    with pytest.raises(VainFConversionError, match='MobileNet'):
        convert(str(src), str(tmp_path / 'out.pth'), trust=True)
    assert _outputs(tmp_path) == [src.name]


def test_refuses_num_classes_that_disagree_with_config(r50_plus, tmp_path):
    ckpt = torch.load(r50_plus, map_location='cpu', weights_only=False)
    for k in ('weight', 'bias'):
        key = f'classifier.classifier.3.{k}'
        ckpt['model_state'][key] = ckpt['model_state'][key][:19]
    src = tmp_path / 'cityscapes_os16.pth'
    torch.save(ckpt, src)
    with pytest.raises(VainFConversionError, match='19 classes'):
        convert(str(src), str(tmp_path / 'out.pth'))
    config = osp.join(CONFIGS, f'vainf-deeplabv3plus_r50-os16{SUFFIX}')
    with pytest.raises(VainFConversionError, match='num_classes is 21'):
        convert(str(src), str(tmp_path / 'out.pth'), config=config)
    wrong_head = osp.join(CONFIGS, f'vainf-deeplabv3_r101-os16{SUFFIX}')
    with pytest.raises(
        VainFConversionError, match=r'VainFDeepLabV3PlusHead.*ResNet-50'
    ):
        convert(str(src), str(tmp_path / 'out.pth'), config=wrong_head)
    caffe = tmp_path / 'caffe.py'
    caffe.write_text(
        f"_base_ = '{config}'\n"
        "model = dict(backbone=dict(style='caffe'), "
        'decode_head=dict(num_classes=19))\n'
    )
    with pytest.raises(VainFConversionError, match="style='pytorch'"):
        convert(str(src), str(tmp_path / 'out.pth'), config=str(caffe))
    assert _outputs(tmp_path) == sorted([src.name, caffe.name])


def test_refuses_missing_unexpected_keys_and_unknown_stride(
    r50_plus, tmp_path
):
    ckpt = torch.load(r50_plus, map_location='cpu', weights_only=False)
    state = ckpt['model_state']
    state['classifier.aspp.extra.weight'] = torch.zeros(1)
    with pytest.raises(VainFConversionError, match='aspp.extra.weight'):
        convert_vainf_state_dict(state)

    del state['classifier.aspp.extra.weight']
    del state['backbone.layer2.1.bn2.running_var']
    src = tmp_path / 'missing_os8.pth'
    torch.save(ckpt, src)
    with pytest.raises(
        VainFConversionError,
        match=r"1 of the model's \d+ weights missing \(e\.g\. "
        r'backbone\.layer2\.1\.bn2\.running_var',
    ):
        convert(str(src), str(tmp_path / 'out.pth'))

    with pytest.raises(VainFConversionError, match='output stride'):
        convert(r50_plus, str(tmp_path / 'out.pth'))
    assert _outputs(tmp_path) == [src.name]


def test_cli_converts_and_reports_errors(r50_plus, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'vainf2mmseg',
        osp.join(ROOT, 'tools', 'model_converters', 'vainf2mmseg.py'),
    )
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    with pytest.raises(SystemExit) as exit_info:
        cli.main([r50_plus, str(tmp_path / 'a.pth')])
    assert exit_info.value.code != 0
    assert 'output stride' in capsys.readouterr().err
    assert not os.listdir(tmp_path)

    config = osp.join(CONFIGS, f'vainf-deeplabv3plus_r50-os8{SUFFIX}')
    with pytest.raises(SystemExit):
        cli.main(
            [
                r50_plus,
                str(tmp_path / 'a.pth'),
                '--config',
                config,
                '--output-stride',
                '16',
            ]
        )
    assert 'output stride 8' in capsys.readouterr().err

    cli.main(
        [
            r50_plus,
            str(tmp_path / 'a.pth'),
            '--config',
            config,
            '--out-config',
            str(tmp_path / 'cfg.py'),
        ]
    )
    assert _outputs(tmp_path) == ['a.pth', 'cfg.py']
    cfg = Config.fromfile(str(tmp_path / 'cfg.py'))
    assert cfg.model.decode_head.dilations == (12, 24, 36)
    assert cfg.model.backbone.strides == (1, 2, 1, 1)


def test_refuses_py_destination_and_malformed_state(r50_plus, tmp_path):
    with pytest.raises(VainFConversionError, match=r'\.py name'):
        convert(r50_plus, str(tmp_path / 'model.py'), output_stride=16)
    assert not os.listdir(tmp_path)
    ckpt = torch.load(r50_plus, map_location='cpu', weights_only=False)
    for bad, match in [
        (torch.zeros(3), "'model_state' is a Tensor"),
        (
            dict(ckpt['model_state'], extra=0.5),
            r"not named tensors, e.g. \[\('extra', 'float'\)\]",
        ),
    ]:
        src = tmp_path / 'bad_os16.pth'
        torch.save(dict(model_state=bad), src)
        with pytest.raises(VainFConversionError, match=match):
            convert(str(src), str(tmp_path / 'out.pth'))
        os.remove(src)
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize(
    'change, match',
    [
        (
            dict(backbone=dict(dilations=(1, 1, 1, 1))),
            r'backbone.dilations \(1, 1, 1, 1\) at output stride 16 should be '
            r'\(1, 1, 1, 2\)',
        ),
        (
            dict(decode_head=dict(dilations=(12, 24, 36))),
            r'ASPP rates\) \(12, 24, 36\) at output stride 16 should be '
            r'\(6, 12, 18\)',
        ),
        (dict(backbone=dict(strides=(1, 2, 2, 2))), r'neither output stride'),
    ],
)
def test_refuses_config_with_wrong_dilations_or_rates(
    r50_plus, tmp_path, change, match
):
    cfg = Config.fromfile(
        osp.join(CONFIGS, f'vainf-deeplabv3plus_r50-os16{SUFFIX}')
    )
    cfg.merge_from_dict(dict(model=change))
    bad = str(tmp_path / 'bad.py')
    cfg.dump(bad)
    with pytest.raises(VainFConversionError, match=match):
        convert(r50_plus, str(tmp_path / 'out.pth'), config=bad)
    assert os.listdir(tmp_path) == ['bad.py']


def test_refuses_to_write_over_its_inputs(r50_plus, tmp_path):
    """SRC SRC replaced the source (exit 0); a config written over --config
    or over the config picked from config_dir is refused as well, before
    anything is written."""
    configs = str(tmp_path / 'configs')
    shutil.copytree(config_path(), configs)
    before = checksums(str(tmp_path)), checksums(osp.dirname(r50_plus))
    chosen = osp.join(
        configs, 'vainf', 'vainf-deeplabv3plus_r50-os16' + SUFFIX
    )
    for dst, kwargs, match in [
        (r50_plus, {}, r'^DST .*r50\.pth is SRC '),
        (
            str(tmp_path / 'm.pth'),
            dict(config=chosen, out_config=chosen),
            r'^--out-config .* is --config ',
        ),
        (chosen[:-3] + '.pth', {}, r'^its config .*os16.* is the chosen con'),
    ]:
        with pytest.raises(VainFConversionError, match=match):
            convert_vainf_checkpoint(
                r50_plus,
                dst,
                output_stride=16,
                config_dir=osp.join(configs, 'vainf'),
                **kwargs,
            )
    assert (
        checksums(str(tmp_path)),
        checksums(osp.dirname(r50_plus)),
    ) == before
