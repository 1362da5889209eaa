"""``tools/analysis/get_flops.py``: the multiply-adds in the model index
(configs/*/metafile.yaml) against counts worked out by hand."""

import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

SCRIPT = (
    Path(__file__).resolve().parents[2] / 'tools' / 'analysis' / 'get_flops.py'
)


@pytest.fixture(scope='module')
def get_flops():
    spec = importlib.util.spec_from_file_location('get_flops', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Attention(nn.Module):
    """A linear projection then windowed attention, as in a Swin block."""

    def __init__(self, dims, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dims, 3 * dims)

    def forward(self, x):  # x: windows x tokens x dims
        w, n, c = x.shape
        qkv = self.qkv(x).reshape(w, n, 3, self.heads, c // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        return F.scaled_dot_product_attention(q, k, v)


# (windows, tokens, dims, heads)
CASES = [(1, 16, 8, 1), (4, 64, 32, 2), (3, 10, 12, 3)]


@pytest.mark.parametrize('windows,tokens,dims,heads', CASES)
def test_attention_counted_as_qk_plus_av(
    get_flops, windows, tokens, dims, heads
):
    from mmengine.analysis import FlopAnalyzer

    model = _Attention(dims, heads).eval()
    x = torch.zeros(windows, tokens, dims)
    flops = FlopAnalyzer(model, (x,))
    flops.set_op_handle(
        'aten::scaled_dot_product_attention', get_flops._sdpa_flops
    )
    flops.unsupported_ops_warnings(False)
    linear = windows * tokens * dims * 3 * dims
    per_head = dims // heads
    # q k^T: tokens x tokens dot products of per_head; a v: the same
    attention = windows * heads * tokens * tokens * 2 * per_head
    assert flops.total() == linear + attention


@pytest.mark.parametrize('bands', [3, 4])
def test_config_count_matches_a_hand_count(get_flops, tmp_path, bands):
    """A 3x3 conv (bands -> 4, no bias) then a 1x1 classifier (4 -> 2) on
    8x8: (9 * bands * 4 + 4 * 2) * 64 multiply-adds; parameters
    9 * bands * 4 + 8 + 2. Four bands: the RGBIR configs (the count was
    made on 3 bands whatever the model took)."""
    cfg = tmp_path / 'conv.py'
    cfg.write_text(
        'crop_size = (8, 8)\n'
        "model = dict(type='EncoderDecoder',\n"
        "    data_preprocessor=dict(type='SegDataPreProcessor'),\n"
        "    backbone=dict(type='mmseg_stunet_test_conv'),\n"
        "    decode_head=dict(type='FCNHead', in_channels=4, channels=4,\n"
        '        num_convs=0, concat_input=False, num_classes=2,\n'
        '        dropout_ratio=0.0, norm_cfg=None))\n'
    )
    from mmseg.registry import MODELS

    @MODELS.register_module(name='mmseg_stunet_test_conv', force=True)
    class _Conv(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(bands, 4, 3, padding=1, bias=False)

        def forward(self, x):
            return [self.conv(x)]

    gflops, mparams, shape = get_flops.complexity(str(cfg))
    assert shape == (8, 8)
    assert round(gflops * 1e9) == (9 * bands * 4 + 4 * 2) * 64
    assert round(mparams * 1e6) == 9 * bands * 4 + 8 + 2
