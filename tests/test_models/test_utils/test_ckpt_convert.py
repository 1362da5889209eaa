"""Pretrained initialisation of ST-UNet's two encoder branches."""

import importlib.util
import logging
import re
import sys
import types
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F

from mmseg_stunet.models.backbones.stunet import STUNetBackbone
from mmseg_stunet.models.utils.ckpt_convert import (
    convert_resnetv2_checkpoint,
    convert_swin_checkpoint,
    load_converted,
    resize_rel_pos_table,
)

SWIN_ARCH = dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4])
CNN = dict(base_channels=8, stage_blocks=(2, 2, 1, 1), num_groups=4)


class LoadReport(logging.Handler):
    """The keys mmengine's load_state_dict reports, from its log."""

    def __init__(self):
        super().__init__()
        self.text = ''
        self.logger = logging.getLogger(f'load_report_{id(self)}')
        self.logger.addHandler(self)
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)

    def emit(self, record):
        self.text += record.getMessage() + '\n'

    def keys(self, what):
        """Keys after 'missing keys in source state_dict:' etc."""
        m = re.search(what + r' in source state_dict: (.*)', self.text)
        return [k.strip() for k in m.group(1).split(',')] if m else []


def _load(module, sd, skipped):
    report = LoadReport()
    load_converted(module, sd, skipped, 'test', logger=report.logger)
    return report


def _backbone(window_size=7, **kwargs):
    return STUNetBackbone(
        embed_dims=16,
        depths=(2, 2, 2, 2),
        num_heads=(1, 2, 2, 4),
        window_size=window_size,
        drop_path_rate=0.0,
        dcn_cfg=dict(type='DeformConvV2'),
        **CNN,
        **kwargs,
    )


def _mmpretrain_swin_cls():
    """mmpretrain's SwinTransformer. ``mmpretrain.models`` imports
    torchvision (for a box metric) at import time; where torchvision is not
    installed a placeholder is put in place for that import only."""
    if importlib.util.find_spec('torchvision') is not None:
        from mmpretrain.models import SwinTransformer

        return SwinTransformer
    names = ('torchvision', 'torchvision.ops', 'torchvision.ops.boxes')
    for name in names:
        sys.modules[name] = types.ModuleType(name)
    try:
        from mmpretrain.models import SwinTransformer
    finally:
        for name in names:
            del sys.modules[name]
    return SwinTransformer


def _build_source(kind):
    torch.manual_seed(0)
    if kind == 'mmpretrain':
        src = _mmpretrain_swin_cls()(
            arch=SWIN_ARCH, img_size=112, window_size=7
        )
    else:
        from mmseg.models.backbones import SwinTransformer

        src = SwinTransformer(
            pretrain_img_size=112,
            embed_dims=SWIN_ARCH['embed_dims'],
            depths=SWIN_ARCH['depths'],
            num_heads=SWIN_ARCH['num_heads'],
            window_size=7,
        )
    for n, p in src.named_parameters():
        if n.endswith('relative_position_bias_table'):
            torch.nn.init.normal_(p)
    src.eval()  # mmseg's / mmpretrain's train() return None
    return src


@pytest.fixture(scope='module', params=['mmpretrain', 'mmseg'])
def source_swin(request):
    return _build_source(request.param)


def test_swin_blocks_reproduce_source(source_swin, tmp_path):
    src = source_swin
    path = str(tmp_path / 'swin.pth')
    torch.save(dict(state_dict=src.state_dict()), path)
    ours = _backbone(swin_pretrained=path)
    ours.init_weights()
    ours.eval()
    x = torch.randn(1, 3, 112, 112)
    with torch.no_grad():
        ref_tokens, ref_hw = src.patch_embed(x)
        tokens, hw = ours.swin.patch_embed(x)
        assert tuple(hw) == tuple(ref_hw) == (28, 28)
        torch.testing.assert_close(tokens, ref_tokens, rtol=1e-4, atol=1e-5)
        # maps larger than the window (mmpretrain drops the shift otherwise)
        for i, size in enumerate((28, 14, 14)):
            z = torch.randn(1, size * size, 16 * 2**i)
            for j in range(2):
                torch.testing.assert_close(
                    ours.swin.stages[i].blocks[j](z, (size, size)),
                    src.stages[i].blocks[j](z, (size, size)),
                    rtol=1e-4,
                    atol=1e-5,
                )


def test_swin_load_report_and_window_resize(source_swin):
    sd, skipped = convert_swin_checkpoint(source_swin.state_dict(), 8)
    ours = _backbone(window_size=8)
    report = _load(ours.swin, sd, skipped)
    assert 'size mismatch' not in report.text
    assert not report.keys('unexpected key')
    # only the paper's new parts stay untrained
    missing = report.keys('missing keys')
    assert missing and all('.sims.' in k or '.fcm.' in k for k in missing)
    for k, v in sd.items():  # everything else loaded
        torch.testing.assert_close(ours.swin.state_dict()[k], v)
    assert any('downsample' in k and 'FCM' in k for k in skipped)
    table = (
        ours.swin.stages[0].blocks[0].attn.w_msa.relative_position_bias_table
    )
    assert table.shape == (15 * 15, 1)
    src = (
        source_swin.stages[0].blocks[0].attn.w_msa.relative_position_bias_table
    )
    # the zero offset sits at the centre of both tables and keeps its bias
    torch.testing.assert_close(
        table.view(15, 15)[7, 7], src.view(13, 13)[6, 6]
    )
    const = resize_rel_pos_table(torch.full((169, 3), 2.5), 8)
    torch.testing.assert_close(const, torch.full((225, 3), 2.5))


def test_swin_official_layout_matches_mm_layout(source_swin):
    mm = source_swin.state_dict()
    official = OrderedDict()
    for k, v in mm.items():
        k = (
            k.replace('stages.', 'layers.')
            .replace('attn.w_msa.', 'attn.')
            .replace('ffn.layers.0.0.', 'mlp.fc1.')
            .replace('ffn.layers.1.', 'mlp.fc2.')
            .replace('patch_embed.projection.', 'patch_embed.proj.')
        )
        official[k] = v
    official['head.weight'] = torch.zeros(10, 128)
    a, _ = convert_swin_checkpoint(mm, 8)
    b, skipped = convert_swin_checkpoint(dict(model=official), 8)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k])
    assert any(k.startswith('head.weight') for k in skipped)


# --- CNN branch: an independent functional reference of timm's ResNetV2 ----


def _std_conv(x, w, stride=1, padding=0):
    m = w.mean(dim=(1, 2, 3), keepdim=True)
    v = w.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
    return F.conv2d(x, (w - m) / torch.sqrt(v + 1e-5), None, stride, padding)


def _timm_postact_state_dict(w=8, blocks=(2, 2, 1, 1), in_ch=3):
    """Random weights under timm ResNetV2(preact=False) key names."""
    g = torch.Generator().manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=g)

    sd = OrderedDict(
        {
            'stem.conv.weight': r(w, in_ch, 7, 7),
            'stem.norm.weight': 1 + 0.1 * r(w),
            'stem.norm.bias': 0.1 * r(w),
        }
    )
    cin = w
    for i, n in enumerate(blocks):
        mid = w * 2**i
        for j in range(n):
            p = f'stages.{i}.blocks.{j}.'
            for name, shape in (
                ('conv1', (mid, cin, 1, 1)),
                ('conv2', (mid, mid, 3, 3)),
                ('conv3', (4 * mid, mid, 1, 1)),
            ):
                sd[p + name + '.weight'] = r(*shape)
                c = shape[0]
                sd[p + 'norm' + name[-1] + '.weight'] = 1 + 0.1 * r(c)
                sd[p + 'norm' + name[-1] + '.bias'] = 0.1 * r(c)
            if j == 0:
                sd[p + 'downsample.conv.weight'] = r(4 * mid, cin, 1, 1)
                sd[p + 'downsample.norm.weight'] = 1 + 0.1 * r(4 * mid)
                sd[p + 'downsample.norm.bias'] = 0.1 * r(4 * mid)
            cin = 4 * mid
    sd['head.fc.weight'] = r(5, cin)
    return sd


def _ref_postact(x, sd, stages, groups=4):
    """Stem, max-pool and the first ``stages`` stages, written out."""
    x = F.group_norm(
        _std_conv(x, sd['stem.conv.weight'], 2, 3),
        groups,
        sd['stem.norm.weight'],
        sd['stem.norm.bias'],
        1e-6,
    )
    x = F.max_pool2d(F.relu(x), 3, 2, 1)
    for i in range(stages):
        j = 0
        while f'stages.{i}.blocks.{j}.conv1.weight' in sd:
            p = f'stages.{i}.blocks.{j}.'
            s = 2 if (i > 0 and j == 0) else 1

            def gn(y, n, gr=groups, eps=1e-6):
                return F.group_norm(
                    y, gr, sd[p + n + '.weight'], sd[p + n + '.bias'], eps
                )

            y = F.relu(gn(_std_conv(x, sd[p + 'conv1.weight']), 'norm1'))
            y = F.relu(gn(_std_conv(y, sd[p + 'conv2.weight'], s, 1), 'norm2'))
            y = gn(_std_conv(y, sd[p + 'conv3.weight']), 'norm3')
            if j == 0:
                c = sd[p + 'downsample.conv.weight'].shape[0]
                sc = gn(
                    _std_conv(x, sd[p + 'downsample.conv.weight'], s),
                    'downsample.norm',
                    c,
                    1e-5,
                )
            else:
                sc = x
            x = F.relu(y + sc)
            j += 1
    return x


def test_cnn_stages_reproduce_timm_postact_resnetv2(tmp_path):
    sd = _timm_postact_state_dict()
    path = str(tmp_path / 'r50.pth')
    torch.save(sd, path)
    ours = _backbone(cnn_pretrained=path)
    ours.init_weights()
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        y = ours.cnn.pool(ours.cnn.stem(x))
        for i in range(2):
            y = ours.cnn.stages[i](y)
            torch.testing.assert_close(
                y, _ref_postact(x, sd, i + 1), rtol=1e-4, atol=1e-4
            )


def test_cnn_loads_preact_bit_layout():
    """BiT (resnetv2_50x1_bit) is pre-activation: its convs and its norm2 /
    norm3 (after conv1 / conv2, where ours has norm1 / norm2) transfer; the
    rest is reported."""
    post = _timm_postact_state_dict()
    bit = OrderedDict()
    for k, v in post.items():
        if (
            k.startswith('stem.norm.')
            or '.downsample.norm.' in k
            or '.norm3.' in k
        ):
            continue
        bit[k.replace('.norm2.', '.norm3.').replace('.norm1.', '.norm2.')] = v
    bit['stages.0.blocks.0.norm1.weight'] = torch.ones(8)  # on the unit input
    bit['norm.weight'] = torch.ones(256)  # final pre-activation norm
    sd, skipped = convert_resnetv2_checkpoint(bit)
    ours = _backbone()
    report = _load(ours.cnn, sd, skipped)
    assert 'size mismatch' not in report.text
    assert not report.keys('unexpected key')
    blk = ours.cnn.stages[1].blocks[0]
    for name in ('conv1', 'conv2', 'conv3', 'norm1', 'norm2'):
        torch.testing.assert_close(
            getattr(blk, name).weight, post[f'stages.1.blocks.0.{name}.weight']
        )
    assert {
        'stem.norm.weight',
        'stages.1.blocks.0.norm3.weight',
        'stages.1.blocks.0.downsample.norm.weight',
    } <= set(report.keys('missing keys'))
    assert any(s.startswith('stages.0.blocks.0.norm1.weight') for s in skipped)
    assert any(s.startswith('norm.weight') for s in skipped)
