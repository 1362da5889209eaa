"""ST-UNet backbone + head: shapes at any size, bands, gradients, inference,
bounded activations and reduced precision at the paper setting."""

import copy

import pytest
import torch
from helpers import SMALL_STUNET_BACKBONE as SMALL_BACKBONE
from helpers import SMALL_STUNET_HEAD as SMALL_HEAD
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmseg_stunet  # noqa: F401  (registers the modules)
from mmseg_stunet.utils.paths import config_path

init_default_scope('mmseg')


def paper_model_cfg():
    return Config.fromfile(config_path('_base_', 'models', 'st_unet.py')).model


def _segmentor(test_cfg=dict(mode='whole'), in_channels=3):
    backbone = dict(SMALL_BACKBONE, in_channels=in_channels)
    return MODELS.build(
        dict(
            type='EncoderDecoder',
            data_preprocessor=dict(
                type='SegDataPreProcessor',
                mean=[0.0] * in_channels,
                std=[1.0] * in_channels,
            ),
            backbone=backbone,
            decode_head=copy.deepcopy(SMALL_HEAD),
            train_cfg=dict(),
            test_cfg=ConfigDict(test_cfg),
        )
    )


@pytest.mark.parametrize('hw', [(256, 256), (320, 192), (511, 383)])
def test_backbone_and_logit_shapes(hw):
    torch.manual_seed(0)
    model = _segmentor().eval()
    H, W = hw
    x = torch.randn(1, 3, H, W)
    with torch.no_grad():
        feats = model.backbone(x)
        assert [tuple(f.shape[1:]) for f in feats] == [
            (8, -(-H // 2), -(-W // 2)),
            (32, -(-H // 4), -(-W // 4)),
            (64, -(-H // 8), -(-W // 8)),
            (128, -(-H // 16), -(-W // 16)),
            (256, -(-H // 32), -(-W // 32)),
        ]
        meta = dict(img_shape=(H, W), ori_shape=(H, W), pad_shape=(H, W))
        logits = model.encode_decode(x, [meta])
    assert logits.shape == (1, 6, H, W)
    assert torch.isfinite(logits).all()


def test_every_parameter_gets_a_gradient_and_four_bands():
    torch.manual_seed(0)
    model = _segmentor(in_channels=4).train()
    x = torch.randn(2, 4, 64, 48)
    gt = torch.randint(0, 6, (2, 1, 64, 48))
    samples = [
        SegDataSample(
            gt_sem_seg=PixelData(data=g), metainfo=dict(img_shape=(64, 48))
        )
        for g in gt
    ]
    losses = model.loss(x, samples)
    assert set(losses) >= {'decode.loss_ce', 'decode.loss_dice'}
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    no_grad = [
        n
        for n, p in model.named_parameters()
        if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert not no_grad, f'parameters without gradient: {no_grad}'


def test_whole_and_slide_inference_agree_in_shape():
    torch.manual_seed(0)
    whole = _segmentor().eval()
    slide = _segmentor(dict(mode='slide', crop_size=(64, 64), stride=(40, 40)))
    slide.load_state_dict(whole.state_dict())
    slide.eval()
    H, W = 100, 90
    inputs = [torch.randint(0, 255, (3, H, W)).float()]
    data = dict(
        inputs=inputs,
        data_samples=[
            SegDataSample(metainfo=dict(img_shape=(H, W), ori_shape=(H, W)))
        ],
    )
    for model in (whole, slide):
        with torch.no_grad():
            out = model.test_step(copy.deepcopy(data))[0]
        assert out.seg_logits.data.shape == (6, H, W)
        assert out.pred_sem_seg.data.shape == (1, H, W)


@pytest.mark.parametrize(
    'head',
    [
        dict(
            type='DepthwiseSeparableASPPHead',
            in_channels=256,
            in_index=3,
            channels=16,
            dilations=(1, 2),
            c1_in_channels=32,
            c1_channels=8,
        ),
        dict(
            type='UPerHead',
            in_channels=[32, 64, 128, 256],
            in_index=[0, 1, 2, 3],
            channels=16,
            pool_scales=(1, 2),
        ),
        dict(type='FCNHead', in_channels=256, in_index=3, channels=16),
    ],
)
def test_mmseg_heads_on_the_backbone(head):
    """The fused stages serve MMSegmentation's own heads by ``in_index``."""
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='EncoderDecoder',
            backbone=dict(SMALL_BACKBONE, out_indices=(1, 2, 3, 4)),
            decode_head=dict(head, num_classes=6, norm_cfg=dict(type='BN')),
            test_cfg=ConfigDict(mode='whole'),
        )
    ).eval()
    with torch.no_grad():
        logits = model.encode_decode(
            torch.randn(1, 3, 64, 64), [dict(img_shape=(64, 64))]
        )
    assert logits.shape == (1, 6, 64, 64)


@pytest.mark.parametrize(
    'bad, match',
    [
        (dict(num_heads=(1, 1, 2)), 'num_heads'),
        (dict(num_heads=(3, 1, 2, 2)), r'num_heads\[0\]=3'),
        (dict(depths=(2, 1, 2, 2)), 'depth must be even'),
        (dict(stage_blocks=(1, 1, 1)), 'stage_blocks'),
    ],
)
def test_bad_arguments_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(dict(SMALL_BACKBONE, **bad))


def test_paper_setting_parameter_count(capsys):
    """Only modules that run: about 81 M parameters at the paper's setting."""
    model = MODELS.build(paper_model_cfg())
    n_backbone = sum(p.numel() for p in model.backbone.parameters())
    n_head = sum(p.numel() for p in model.decode_head.parameters())
    total = n_backbone + n_head
    with capsys.disabled():
        print(
            f'\nST-UNet paper setting: {total / 1e6:.2f} M parameters '
            f'(backbone {n_backbone / 1e6:.2f} M, head {n_head / 1e6:.2f} M)'
        )
    assert 75e6 < total < 88e6


def test_untrained_paper_model_stays_bounded_in_eval_mode():
    """PyTorch's default init in SIM, FCM, RAM and decoder (the authors'):
    an untrained paper-setting model in eval mode (BatchNorm running
    statistics at their initial 0 / 1, no calibration) keeps every Swin
    stage, every fused stage and the logits below 100 on a random image.
    With mmcv's Kaiming init SIM's outer products reach 1e12."""
    torch.manual_seed(0)
    model = MODELS.build(paper_model_cfg())
    model.init_weights()
    model.eval()
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        swin = model.backbone.swin(x)
        fused = model.backbone(x)
        logits = model.encode_decode(x, [dict(img_shape=(256, 256))])
    peaks = [t.abs().max().item() for t in swin + fused + [logits]]
    assert max(peaks) < 100, peaks


@pytest.mark.e2e  # 12 s: CPU float16 conv backward is a reference kernel
def test_fp16_autocast_training_step_with_grad_scaler():
    """One SGD step of the paper-setting model under float16 autocast with
    a gradient scaler: finite loss and gradients, and the fused skips and
    the decoder run in float16 (the RAM casts its float32 DCN back)."""
    torch.manual_seed(0)
    model = MODELS.build(paper_model_cfg())
    model.init_weights()
    model.train()
    dtypes = {}

    def record(name):

        def hook(module, args, out):
            dtypes[name] = out.dtype

        return hook

    hooks = [
        m.register_forward_hook(record(name))
        for name, m in (
            [(f'ram{i}', r) for i, r in enumerate(model.backbone.rams)]
            + [
                (f'decoder{i}', b)
                for i, b in enumerate(model.decode_head.blocks)
            ]
        )
    ]
    # one 64x64 image: CPU float16 convolution backward is a slow
    # reference kernel (10 s for this step)
    x = torch.randn(1, 3, 64, 64)
    samples = [
        SegDataSample(
            gt_sem_seg=PixelData(data=torch.randint(0, 6, (1, 64, 64))),
            metainfo=dict(img_shape=(64, 64)),
        )
    ]
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler('cpu')
    with torch.autocast('cpu', dtype=torch.float16):
        losses = model.loss(x, samples)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
    for h in hooks:
        h.remove()
    assert torch.isfinite(loss), losses
    scaler.scale(loss).backward()
    scaler.unscale_(optim)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    scaler.step(optim)
    scaler.update()
    assert scaler.get_scale() == 2.0**16  # no inf/NaN step was skipped
    assert set(dtypes.values()) == {torch.float16}, dtypes
