"""The authors' class-wise Dice: formula, hand-computed case, ignored
pixels, and the paper config's decode loss = 0.5 CE + 0.5 Dice."""

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmseg_stunet  # noqa: F401  (registers the modules)
from mmseg_stunet.models.losses import ClassWiseDiceLoss, classwise_dice_loss
from mmseg_stunet.utils.paths import config_path

init_default_scope('mmseg')


class AuthorsDiceLoss(torch.nn.Module):
    """TransUNet's / the ST-UNet authors' DiceLoss, as they wrote it."""

    def __init__(self, n_classes):
        super().__init__()
        self.n_classes = n_classes

    def _one_hot_encoder(self, input_tensor):
        tensor_list = []
        for i in range(self.n_classes):
            temp_prob = input_tensor == i
            tensor_list.append(temp_prob.unsqueeze(1))
        output_tensor = torch.cat(tensor_list, dim=1)
        return output_tensor.float()

    def _dice_loss(self, score, target):
        target = target.float()
        smooth = 1e-5
        intersect = torch.sum(score * target)
        y_sum = torch.sum(target * target)
        z_sum = torch.sum(score * score)
        loss = (2 * intersect + smooth) / (z_sum + y_sum + smooth)
        loss = 1 - loss
        return loss

    def forward(self, inputs, target, weight=None, softmax=False):
        if softmax:
            inputs = torch.softmax(inputs, dim=1)
        target = self._one_hot_encoder(target)
        if weight is None:
            weight = [1] * self.n_classes
        loss = 0.0
        for i in range(0, self.n_classes):
            dice = self._dice_loss(inputs[:, i], target[:, i])
            loss += dice * weight[i]
        return loss / self.n_classes


def test_matches_the_authors_dice():
    torch.manual_seed(0)
    logits = torch.randn(3, 6, 17, 13, dtype=torch.float64) * 3
    target = torch.randint(0, 6, (3, 17, 13))
    ref = AuthorsDiceLoss(6)(logits, target, softmax=True)
    torch.testing.assert_close(classwise_dice_loss(logits, target), ref)


def test_hand_computed_case():
    """Two classes, one image of two pixels, logits chosen so that
    softmax = (0.8, 0.2) and (0.4, 0.6); labels 0 and 1.

    class 0: p = (0.8, 0.4), t = (1, 0): 1 - (1.6 + s) / (0.8 + 1 + s)
    class 1: p = (0.2, 0.6), t = (0, 1): 1 - (1.2 + s) / (0.4 + 1 + s)
    """
    s = 1e-5
    p = torch.tensor([[0.8, 0.4], [0.2, 0.6]], dtype=torch.float64)
    logits = p.log().view(1, 2, 1, 2)
    target = torch.tensor([[[0, 1]]])
    d0 = 1 - (1.6 + s) / (0.64 + 0.16 + 1 + s)
    d1 = 1 - (1.2 + s) / (0.04 + 0.36 + 1 + s)
    expected = (d0 + d1) / 2
    got = classwise_dice_loss(logits, target)
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_ignored_pixels_drop_out_of_every_sum():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 9, 9, dtype=torch.float64)
    target = torch.randint(0, 4, (2, 9, 9))
    ignored = torch.rand(2, 9, 9) < 0.3
    with_ignore = target.masked_fill(ignored, 255)
    got = classwise_dice_loss(logits, with_ignore)
    # the same as the authors' loss on the labelled pixels alone
    keep = ~ignored
    flat_logits = logits.permute(1, 0, 2, 3)[:, keep][None, :, :, None]
    flat_target = target[keep][None, :, None]
    ref = AuthorsDiceLoss(4)(flat_logits, flat_target, softmax=True)
    torch.testing.assert_close(got, ref)
    # and blind to the logits of ignored pixels
    noisy = logits + 50 * torch.randn_like(logits) * ignored[:, None]
    torch.testing.assert_close(classwise_dice_loss(noisy, with_ignore), got)


def test_reduced_precision_is_summed_in_float32():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 256, 256)
    target = torch.randint(0, 6, (2, 256, 256))
    ref = classwise_dice_loss(logits, target)
    half = classwise_dice_loss(logits.half(), target)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, ref, rtol=1e-3, atol=1e-4)


def test_module_weight_name_and_gradient():
    loss = ClassWiseDiceLoss(loss_weight=0.5)
    assert loss.loss_name == 'loss_dice'
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    target = torch.randint(0, 3, (1, 4, 4))
    out = loss(logits, target, ignore_index=255)
    torch.testing.assert_close(out, 0.5 * classwise_dice_loss(logits, target))
    out.backward()
    assert logits.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='per-pixel weight'):
        loss(logits, target, weight=torch.ones(1, 4, 4))


def test_rare_class_gets_more_gradient_than_mmseg_dice():
    """The reason for this loss: with six classes and one on 0.9 % of the
    pixels (ISPRS cars), at the start of training (uniform predictions) the
    rare class gets 5.3x more gradient than with mmseg's DiceLoss."""
    torch.manual_seed(0)
    target = torch.randint(0, 4, (8, 64, 64))
    target[:, :, :2] = 5
    target.view(8, -1)[:, :36] = 4  # 36 / 4096 = 0.9 %
    logits = torch.zeros(8, 6, 64, 64)
    mmseg_dice = MODELS.build(dict(type='DiceLoss', use_sigmoid=False))
    grads = []
    for fn in (
        lambda x: classwise_dice_loss(x, target),
        lambda x: mmseg_dice(x, target),
    ):
        x = logits.clone().requires_grad_()
        fn(x).backward()
        grads.append(x.grad[:, 4][target == 4].abs().mean())
    assert grads[0] / grads[1] == pytest.approx(5.29, abs=0.01)


def test_paper_config_decode_loss_is_half_ce_half_authors_dice():
    cfg = Config.fromfile(config_path('_base_', 'models', 'st_unet.py'))
    head_cfg = cfg.model.decode_head
    head_cfg.update(
        in_channels=(8, 8, 8, 8), decoder_channels=(8, 8, 8, 8), channels=4
    )
    head = MODELS.build(head_cfg)
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 32, 32) * 2
    labels = torch.randint(0, 6, (2, 1, 32, 32))
    samples = [SegDataSample(gt_sem_seg=PixelData(data=g)) for g in labels]
    losses = head.loss_by_feat(logits, samples)
    total = losses['loss_ce'] + losses['loss_dice']
    target = labels[:, 0]
    ref = 0.5 * F.cross_entropy(logits, target) + 0.5 * AuthorsDiceLoss(6)(
        logits, target, softmax=True
    )
    torch.testing.assert_close(total, ref, rtol=1e-4, atol=0)
