"""VainF's DeepLabV3/V3+ heads and their VOC configs."""

import numpy as np
import pytest
import torch
from mmengine.config import Config

import mmseg_stunet  # noqa: F401
from mmseg_stunet.utils.paths import config_path

SUFFIX = '_4xb4-30k_voc12aug-513x513.py'


def test_head_structure_and_gradients():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from mmseg_stunet.models.decode_heads.vainf_aspp_head import (
        VainFDeepLabV3PlusHead,
    )

    torch.manual_seed(0)
    head = VainFDeepLabV3PlusHead(
        in_channels=32,
        channels=16,
        c1_in_channels=8,
        c1_channels=6,
        dilations=(2, 4, 6),
        separable=True,
        num_classes=5,
        in_index=3,
    )
    assert head.dropout is None
    assert head.aspp.dropout.p == 0.1
    assert head.aspp.project.conv.kernel_size == (1, 1)
    assert head.bottleneck.depthwise_conv.conv.groups == 22
    assert head.bottleneck.depthwise_conv.norm_cfg is None
    assert head.bottleneck.depthwise_conv.conv.bias is None
    assert head.aspp.aspp_modules[0].conv.kernel_size == (1, 1)
    assert head.aspp.aspp_modules[3].depthwise_conv.conv.dilation == (6, 6)

    feats = [
        torch.randn(2, 8, 16, 16),
        torch.randn(2, 1),
        torch.randn(2, 1),
        torch.randn(2, 32, 4, 4),
    ]
    assert head(feats).shape == (2, 5, 16, 16)
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, 64, 64)))
        samples.append(s)
    losses = head.loss(feats, samples, dict())
    losses['loss_ce'].backward()
    assert torch.isfinite(losses['loss_ce'])
    assert all(
        p.grad is not None and p.grad.abs().sum() > 0
        for p in head.parameters()
    )


@pytest.mark.parametrize('arch', ['deeplabv3', 'deeplabv3plus'])
@pytest.mark.parametrize('depth', [50, 101])
@pytest.mark.parametrize('output_stride', [16, 8])
def test_configs_follow_vainf_recipe(arch, depth, output_stride):
    cfg = Config.fromfile(
        config_path(
            'vainf', f'vainf-{arch}_r{depth}-os{output_stride}{SUFFIX}'
        )
    )
    backbone, head = cfg.model.backbone, cfg.model.decode_head
    assert cfg.custom_imports.imports == ['mmseg_stunet']
    assert backbone.type == 'ResNet' and backbone.depth == depth
    assert not backbone.deep_stem and backbone.style == 'pytorch'
    assert backbone.contract_dilation
    assert 4 * np.prod(backbone.strides) == output_stride
    assert head.dilations == {16: (6, 12, 18), 8: (12, 24, 36)}[output_stride]
    assert (
        head.type
        == {
            'deeplabv3': 'VainFDeepLabV3Head',
            'deeplabv3plus': 'VainFDeepLabV3PlusHead',
        }[arch]
    )
    assert cfg.model.pretrained == f'torchvision://resnet{depth}'
    assert cfg.crop_size == (513, 513)
    assert cfg.train_dataloader.batch_size == 4  # x 4 GPUs = 16
    assert cfg.train_cfg.max_iters == 30000
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult == 0.1
    for ds in cfg.train_dataloader.dataset.datasets:
        assert [t['type'] for t in ds.pipeline] == [
            'LoadImageFromFile',
            'LoadAnnotations',
            'RandomResize',
            'RandomCrop',
            'RandomFlip',
            'PackSegInputs',
        ]
