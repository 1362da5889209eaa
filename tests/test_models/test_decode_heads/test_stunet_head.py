"""STUNetHead: crop of odd sizes, PyTorch's default initialisation."""

import copy

import torch
from helpers import SMALL_STUNET_HEAD as SMALL_HEAD
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmseg_stunet  # noqa: F401  (registers the modules)

init_default_scope('mmseg')


def test_head_crops_the_overhang_of_odd_inputs():
    """Logits cover the input from its top-left corner: the overhang of an
    odd-sized input is cropped, not resized away."""
    logits = torch.randn(1, 6, 12, 12)
    head = MODELS.build(copy.deepcopy(SMALL_HEAD))
    out = head.predict_by_feat(logits, [dict(img_shape=(11, 9))])
    assert torch.equal(out, logits[..., :11, :9])


def test_convolutions_keep_torch_default_init():
    """Classifier, decoder convs and transposed convs: uniform within
    1/sqrt(fan_in) (PyTorch's default, as the authors), not Normal(0.01)
    nor Kaiming normal, also after mmengine's init_weights."""
    torch.manual_seed(0)
    head = MODELS.build(copy.deepcopy(SMALL_HEAD))
    for _ in range(2):
        cls = head.conv_seg
        bound = (cls.in_channels * 9) ** -0.5
        assert cls.weight.abs().max() <= bound
        assert (
            cls.weight.std() > 0.4 * bound
        )  # Normal(0.01) would be far below
        assert cls.bias.abs().max() > 0  # default init: non-zero bias
        conv = head.blocks[0].conv1.conv
        fan_in = conv.in_channels * 9
        assert conv.weight.abs().max() <= fan_in**-0.5
        up = head.blocks[0].up
        assert up.weight.abs().max() <= (up.weight.shape[1] * 4) ** -0.5
        head.init_weights()
