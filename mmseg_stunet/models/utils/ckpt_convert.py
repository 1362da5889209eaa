"""Key mapping of public checkpoints onto ST-UNet's two encoder branches.

* Swin-T (ImageNet) in mmpretrain's / MMSegmentation's layout
  (``stages.i.blocks.j.attn.w_msa...``) or the official layout
  (``layers.i.blocks.j.attn...``) -> ``SwinBranch``. Relative-position tables
  are resized bicubically to the branch's window; patch merging is skipped
  (FCM replaces it); the 4x4/4 patch embedding becomes the centre of the
  8x8/4 (padding 2) kernel, which then computes the same patches.
* timm ``ResNetV2`` (``stem.conv``, ``stages.i.blocks.j.conv1`` ...) ->
  ``ResNetV2GN``. The post-activation layout (``stem.norm``,
  ``downsample.norm``; TransUNet's / the hybrid ViT's R50) maps one to one.
  BiT (``resnetv2_50x1_bit``) is pre-activation: its convs and the two norms
  between them (``norm2``, ``norm3`` -> ``norm1``, ``norm2``) transfer; its
  ``norm1`` (before the unit) and final ``norm`` have no counterpart, and
  ``stem.norm``, ``norm3`` and ``downsample.norm`` keep their initialisation.
"""

import logging
import re
from collections import OrderedDict
from typing import Dict, List, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.runner.checkpoint import load_state_dict
from torch import nn

__all__ = [
    'convert_swin_checkpoint',
    'convert_resnetv2_checkpoint',
    'resize_rel_pos_table',
    'load_converted',
]

StateDict = Dict[str, torch.Tensor]


def _strip(state_dict: StateDict) -> StateDict:
    """Unwrap ``state_dict`` / ``model``; drop 'module.' / 'backbone.'."""
    for key in ('state_dict', 'model'):
        if key in state_dict and isinstance(state_dict[key], dict):
            state_dict = state_dict[key]
    out = OrderedDict()
    for k, v in state_dict.items():
        for prefix in ('module.', 'backbone.'):
            if k.startswith(prefix):
                k = k[len(prefix) :]
        out[k] = v
    return out


def resize_rel_pos_table(
    table: torch.Tensor, window_size: int
) -> torch.Tensor:
    """((2*w0-1)^2, nH) -> ((2*w-1)^2, nH), bicubic.

    The resize MMSegmentation's ``SwinTransformer.init_weights`` applies
    inline (not reusable from there). mmpretrain's
    ``resize_relative_position_bias_table`` is another function (BEiT's
    geometric interpolation, through scipy), and importing it loads all of
    ``mmpretrain.models``, torchvision included.
    """
    L1, nH = table.shape
    S1 = int(L1**0.5)
    S2 = 2 * window_size - 1
    if S1 == S2:
        return table
    t = table.t().reshape(1, nH, S1, S1)
    t = F.interpolate(
        t.float(), size=(S2, S2), mode='bicubic', align_corners=False
    )
    return t.reshape(nH, S2 * S2).t().to(table.dtype)


def _official_to_mm(k: str) -> str:
    k = k.replace('patch_embed.proj.', 'patch_embed.projection.')
    k = re.sub(r'^layers\.', 'stages.', k)
    k = k.replace('.attn.', '.attn.w_msa.')
    k = k.replace('.mlp.fc1.', '.ffn.layers.0.0.')
    k = k.replace('.mlp.fc2.', '.ffn.layers.1.')
    return k


def convert_swin_checkpoint(
    state_dict: StateDict,
    window_size: int,
    patch_size: int = 8,
) -> Tuple[StateDict, List[str]]:
    """Map a Swin checkpoint onto ``SwinBranch`` keys.

    Returns:
        (converted state dict, source keys skipped on purpose with reasons).
    """
    sd = _strip(state_dict)
    if any(k.startswith('layers.') for k in sd):
        sd = OrderedDict((_official_to_mm(k), v) for k, v in sd.items())
    out, skipped = OrderedDict(), []
    for k, v in sd.items():
        if re.match(r'stages\.\d+\.downsample\.', k):
            skipped.append(f'{k} (patch merging, replaced by FCM)')
        elif k.endswith('relative_position_index') or k.endswith('attn_mask'):
            skipped.append(f'{k} (buffer, rebuilt for the window size)')
        elif not (k.startswith('stages.') or k.startswith('patch_embed.')):
            skipped.append(f'{k} (not part of the Swin branch)')
        elif k.endswith('relative_position_bias_table'):
            out[k] = resize_rel_pos_table(v, window_size)
        elif k == 'patch_embed.projection.weight' and v.shape[-1] < patch_size:
            # a p x p / p patch is the centre of our k x k kernel (stride p,
            # padding (k - p) / 2)
            p = v.shape[-1]
            o = (patch_size - p) // 2
            w = v.new_zeros(v.shape[:2] + (patch_size, patch_size))
            w[..., o : o + p, o : o + p] = v
            out[k] = w
        else:
            out[k] = v
    return out, skipped


def convert_resnetv2_checkpoint(
    state_dict: StateDict,
) -> Tuple[StateDict, List[str]]:
    """Map a timm ``ResNetV2`` checkpoint onto ``ResNetV2GN`` keys.

    Returns:
        (converted state dict, source keys skipped on purpose with reasons).
    """
    sd = _strip(state_dict)
    preact = 'stem.norm.weight' not in sd
    out, skipped = OrderedDict(), []
    for k, v in sd.items():
        if not (k.startswith('stem.') or k.startswith('stages.')):
            skipped.append(f'{k} (not part of the CNN branch)')
            continue
        if preact:
            m = re.match(r'(stages\.\d+\.blocks\.\d+\.)norm(\d)\.(.*)', k)
            if m and m.group(2) == '1':
                skipped.append(f'{k} (pre-activation norm, no counterpart)')
                continue
            if m:
                k = f'{m.group(1)}norm{int(m.group(2)) - 1}.{m.group(3)}'
        out[k] = v
    return out, skipped


def load_converted(
    module: nn.Module,
    converted: StateDict,
    skipped: List[str],
    name: str,
    logger: Union[str, logging.Logger] = 'current',
) -> None:
    """Load ``converted`` into ``module`` with mmengine's ``load_state_dict``
    (``strict=False``), which loads what fits and logs missing, unexpected
    and shape-mismatched keys; the keys the converter left out on purpose
    are logged first, with their reasons.

    Relative-position indices are buffers that depend only on the window:
    the module's own are kept.
    """
    own = module.state_dict()
    converted = OrderedDict(converted)
    for k in own:
        if k.endswith('relative_position_index'):
            converted[k] = own[k]
    lines = [f'{name}: {len(converted)} tensors to load']
    if skipped:
        lines.append(
            f'skipped on purpose ({len(skipped)}):\n    '
            + '\n    '.join(skipped)
        )
    print_log('\n'.join(lines), logger=logger)
    load_state_dict(module, converted, strict=False, logger=logger)
