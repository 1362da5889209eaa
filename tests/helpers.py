"""Helpers for the tests (not shipped): small models and data sets, a runner
for the command-line tools, reference batch norms. ``conftest.py`` puts
this folder on ``sys.path``: ``from helpers import ...``."""

import hashlib
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmseg.structures import SegDataSample

from mmseg_stunet.testing import (
    GEO_CRS,
    GEO_TRANSFORM,
    smooth_scene,
    write_geotiff,
)
from mmseg_stunet.utils.paths import config_path, project_root

__all__ = [
    'SMALL_STUNET_BACKBONE',
    'SMALL_STUNET_HEAD',
    'tiny_stunet_model',
    'run_tool',
    'checksums',
    'write_shapes_dataset',
    'tiny_config',
    'write_tiny_config',
    'tiny_data_options',
    'small_cfg',
    'build_small',
    'randomise_bn',
    'bn_reference',
    'conv_bn_reference',
    'GEO_CRS',
    'GEO_TRANSFORM',
    'write_geotiff',
]


def tiny_stunet_model() -> dict:
    """The project's one reduced-width ST-UNet segmentor (``model`` of
    ``configs/_base_/models/st_unet_tiny.py``, the demo's model) as a plain
    dict."""
    path = config_path('_base_', 'models', 'st_unet_tiny.py')
    return Config.fromfile(path).model.to_dict()


_TINY = tiny_stunet_model()
#: the backbone of :func:`tiny_stunet_model` (the tests' ST-UNet; output
#: channels 8, 32, 64, 128, 256)
SMALL_STUNET_BACKBONE = _TINY['backbone']
#: its head, with the paper's loss
SMALL_STUNET_HEAD = _TINY['decode_head']


def run_tool(
    args: Sequence[str],
    cwd: Optional[str] = None,
    timeout: float = 600,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` (a repo tool or module) in the checkout.

    Raises:
        AssertionError: with the tool's output if ``check`` and it exits
            non-zero.
    """
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='2')
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=cwd or project_root(),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f'{" ".join(args)} exited {proc.returncode}:\n'
            f'{proc.stdout[-6000:]}'
        )
    return proc


def checksums(root: str) -> Dict[str, str]:
    """sha256 of every file below ``root``, by path relative to it: equal
    before and after a command when it changed, added and removed
    nothing there."""
    sums = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                sums[osp.relpath(path, root)] = hashlib.sha256(
                    f.read()
                ).hexdigest()
    return sums


def write_shapes_dataset(
    root: str,
    splits: Sequence[Tuple[str, int]] = (('train', 6), ('val', 2)),
    size: int = 32,
    seed: int = 0,
) -> str:
    """Images of a red square and a green disc on noise, with label maps
    0 (background), 1 (square), 2 (disc) in MMSegmentation's layout."""
    import cv2

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    for split, count in splits:
        os.makedirs(osp.join(root, 'img_dir', split), exist_ok=True)
        os.makedirs(osp.join(root, 'ann_dir', split), exist_ok=True)
        for i in range(count):
            img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
            ann = np.zeros((size, size), np.uint8)
            x0, y0 = rng.integers(2, size // 2, 2)
            ann[y0 : y0 + size // 3, x0 : x0 + size // 3] = 1
            cx, cy = rng.integers(size // 4, 3 * size // 4, 2)
            ann[(yy - cy) ** 2 + (xx - cx) ** 2 < (size // 6) ** 2] = 2
            img[ann == 1] = (40, 40, 220)  # BGR red
            img[ann == 2] = (40, 220, 40)
            cv2.imwrite(osp.join(root, 'img_dir', split, f'{i}.png'), img)
            cv2.imwrite(osp.join(root, 'ann_dir', split, f'{i}.png'), ann)
    return root


def tiny_config() -> str:
    """Path of a tiny MMSegmentation config with the project's runtime (FCN
    on a narrow ResNet-18, 3 classes, 32x32 images, 2 iterations) for
    :func:`write_shapes_dataset` data; point it at the data with
    :func:`tiny_data_options`."""
    return osp.join(project_root(), 'tests', 'data', 'tiny_fcn_config.py')


def write_tiny_config(path: str, data_root: str, max_iters: int = 1) -> str:
    """Write a config at ``path`` that inherits :func:`tiny_config` with
    every data loader on ``data_root`` and ``max_iters`` iterations (for
    tools that take no ``--cfg-options``); returns ``path``."""
    with open(path, 'w') as f:
        f.write(f'_base_ = [{tiny_config()!r}]\n')
        for loader in ('train', 'val', 'test'):
            f.write(
                f'{loader}_dataloader = dict(dataset=dict('
                f'data_root={data_root!r}))\n'
            )
        f.write(f'train_cfg = dict(max_iters={max_iters})\n')
    return path


def tiny_data_options(data_root: str) -> Dict[str, str]:
    """The ``--cfg-options`` (as a dict) that point every data loader of
    :func:`tiny_config` at ``data_root``."""
    return {
        f'{key}data_root': data_root
        for key in (
            '',
            'train_dataloader.dataset.',
            'val_dataloader.dataset.',
            'test_dataloader.dataset.',
        )
    }


def small_cfg(head: str = 'fcn', in_channels: int = 3) -> Config:
    """A small segmentor config: FCN on one ResNet stage (bounded receptive
    field) or DeepLabV3+ (global image pooling) on a narrow ResNet-18."""
    norm = dict(type='BN', requires_grad=True)
    loss = dict(type='CrossEntropyLoss', avg_non_ignore=True)
    mean = [123.675, 116.28, 103.53, 110.0][:in_channels]
    std = [58.395, 57.12, 57.375, 50.0][:in_channels]
    pre = dict(
        type='SegDataPreProcessor',
        mean=mean,
        std=std,
        bgr_to_rgb=in_channels == 3,
        pad_val=0,
        seg_pad_val=255,
    )
    if head == 'fcn':
        backbone = dict(
            type='ResNetV1c',
            depth=18,
            num_stages=1,
            strides=(1,),
            dilations=(1,),
            out_indices=(0,),
            stem_channels=8,
            base_channels=8,
            norm_cfg=norm,
            in_channels=in_channels,
        )
        decode = dict(
            type='FCNHead',
            in_channels=8,
            channels=8,
            num_convs=1,
            concat_input=False,
            in_index=0,
            num_classes=6,
            norm_cfg=norm,
            align_corners=False,
            loss_decode=loss,
        )
    else:
        backbone = dict(
            type='ResNetV1c',
            depth=18,
            stem_channels=8,
            base_channels=8,
            out_indices=(0, 1, 2, 3),
            strides=(1, 2, 2, 1),
            dilations=(1, 1, 1, 2),
            norm_cfg=norm,
            in_channels=in_channels,
        )
        decode = dict(
            type='DepthwiseSeparableASPPHead',
            in_channels=64,
            in_index=3,
            channels=16,
            dilations=(1, 2, 3, 4),
            c1_in_channels=8,
            c1_channels=8,
            num_classes=6,
            norm_cfg=norm,
            align_corners=False,
            loss_decode=loss,
        )
    return Config(
        dict(
            default_scope='mmseg',
            model=dict(
                type='EncoderDecoder',
                data_preprocessor=pre,
                backbone=backbone,
                decode_head=decode,
                train_cfg=dict(),
                test_cfg=dict(mode='whole'),
            ),
            test_pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='PackSegInputs'),
            ],
        )
    )


def build_small(
    head: str = 'fcn', in_channels: int = 3, seed: int = 0
) -> torch.nn.Module:
    """A :func:`small_cfg` segmentor in eval mode with random weights that
    predict several classes on :func:`smooth_scene` images."""
    torch.manual_seed(seed)
    from mmseg.apis import init_model

    model = init_model(small_cfg(head, in_channels), None, 'cpu')
    # Non-trivial BN statistics and a stronger classifier so that several
    # classes appear.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    head = model.decode_head.conv_seg
    torch.nn.init.normal_(head.weight, std=10.0)
    # Centre each class score on a sample image (balances the classes).
    sample = torch.from_numpy(
        smooth_scene(64, 64, in_channels, seed=9)
    ).float()
    data = model.data_preprocessor(
        dict(inputs=[sample], data_samples=[SegDataSample()]), False
    )
    with torch.no_grad():
        logits = model.encode_decode(
            data['inputs'], [dict(img_shape=(64, 64))]
        )
        head.bias -= logits.mean(dim=(0, 2, 3))
    return model


def randomise_bn(module: torch.nn.Module) -> torch.nn.Module:
    """Random affine parameters and running statistics in every
    ``BatchNorm2d`` of ``module``; returns it in eval mode."""
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_()
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
    return module.eval()


def bn_reference(x: torch.Tensor, bn: torch.nn.BatchNorm2d) -> torch.Tensor:
    """Eval-mode batch norm written out."""
    return (x - bn.running_mean[:, None, None]) / (
        bn.running_var[:, None, None] + bn.eps
    ).sqrt() * bn.weight[:, None, None] + bn.bias[:, None, None]


def conv_bn_reference(
    x: torch.Tensor,
    cm: torch.nn.Module,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> torch.Tensor:
    """Conv (+ bias if any) then eval-mode BN of an mmcv ``ConvModule``."""
    y = torch.nn.functional.conv2d(
        x, cm.conv.weight, cm.conv.bias, stride, padding, dilation
    )
    return bn_reference(y, cm.bn)
