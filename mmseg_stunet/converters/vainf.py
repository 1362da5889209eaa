"""Convert VainF/DeepLabV3Plus-Pytorch checkpoints to MMSegmentation.

VainF saves ``{'model_state': state_dict, 'optimizer_state': ...,
'scheduler_state': ..., 'cur_itrs': int, 'best_score': float}``. The model is
``backbone`` (torchvision ResNet cut after layer4) plus ``classifier``
(``DeepLabHead`` or ``DeepLabHeadV3Plus``). The backbone keys are the keys of
MMSegmentation's ``ResNet`` (``deep_stem=False``); the head keys map onto
:class:`VainFDeepLabV3Head` / :class:`VainFDeepLabV3PlusHead`.

Output stride is not stored in the weights: it comes from the target config,
or from ``output_stride``, or from ``os8`` / ``os16`` in the file name.
Pure functions: the caller names the config (or the folder of the
``configs/vainf`` files); nothing is looked up relative to the package.
"""

import copy
import os
import os.path as osp
import re
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Dict, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config

from ..utils.atomic import atomic_write
from ..utils.paths import UnsafeOutputError, check_outputs

__all__ = [
    'VainFConversionError',
    'VainFModelInfo',
    'load_vainf_checkpoint',
    'inspect_vainf_state',
    'convert_vainf_state_dict',
    'check_config',
    'convert_vainf_checkpoint',
]

StateDict = Dict[str, torch.Tensor]


class VainFConversionError(ValueError):
    """A VainF checkpoint that cannot be mapped to the requested model."""


@dataclass
class VainFModelInfo:
    """What a VainF state dict holds."""

    arch: str  # 'deeplabv3' or 'deeplabv3plus'
    depth: int  # 50 or 101
    separable: bool
    num_classes: int


RESNET_BLOCKS = {(3, 4, 6, 3): 50, (3, 4, 23, 3): 101}
HEAD_TYPES = {
    'deeplabv3': 'VainFDeepLabV3Head',
    'deeplabv3plus': 'VainFDeepLabV3PlusHead',
}
#: output stride -> (ResNet strides, ResNet dilations, ASPP rates) of
#: torchvision's replace_stride_with_dilation, as VainF builds them
OUTPUT_STRIDES = {
    16: ((1, 2, 2, 1), (1, 1, 1, 2), (6, 12, 18)),
    8: ((1, 2, 1, 1), (1, 1, 2, 4), (12, 24, 36)),
}


def load_vainf_checkpoint(
    path: str, trust: bool = False
) -> Tuple[StateDict, dict]:
    """Read a VainF checkpoint; returns (state_dict, extra info dict).

    Loads with ``weights_only=True`` (numpy scalars allowed through
    :mod:`mmseg_stunet.compat`; VainF stores ``best_score`` as one) unless
    ``trust`` is set.
    """
    if not osp.isfile(path):
        raise VainFConversionError(f'{path}: no such file')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=not trust)
    except Exception as e:  # pickle errors come in many types
        from ..engine.checkpoint import read_error_reason

        reason = read_error_reason(e)
        if 'refused rather than executed' in reason:
            reason += (
                '; only for a file whose origin you trust, --trust '
                'loads it with the code it carries'
            )
        raise VainFConversionError(
            f'{path}: cannot be read as a checkpoint: {reason}'
        ) from None
    if not isinstance(ckpt, dict):
        raise VainFConversionError(
            f'{path}: expected a dict, got {type(ckpt).__name__}'
        )
    if 'model_state' in ckpt:
        state, extra = (
            ckpt['model_state'],
            {k: v for k, v in ckpt.items() if k in ('cur_itrs', 'best_score')},
        )
    elif any(k.startswith(('backbone.', 'module.backbone.')) for k in ckpt):
        state, extra = ckpt, {}
    else:
        raise VainFConversionError(
            f"{path}: no 'model_state' key (keys: {sorted(ckpt)[:8]})"
        )
    if not isinstance(state, dict):
        raise VainFConversionError(
            f"{path}: 'model_state' is a {type(state).__name__}, not a "
            'state dict of tensors'
        )
    bad = [
        (k, type(v).__name__)
        for k, v in state.items()
        if not isinstance(k, str) or not torch.is_tensor(v)
    ]
    if bad:
        raise VainFConversionError(
            f"{path}: 'model_state' holds {len(bad)} entries that are not "
            f'named tensors, e.g. {bad[:3]}'
        )
    state = OrderedDict(
        (k[len('module.') :] if k.startswith('module.') else k, v)
        for k, v in state.items()
    )
    extra = {
        k: v.item() if isinstance(v, (np.generic, torch.Tensor)) else v
        for k, v in extra.items()
    }
    return state, extra


def inspect_vainf_state(state: StateDict) -> VainFModelInfo:
    """Tell architecture, ResNet depth, separable convs and class count.

    Raises VainFConversionError for models it cannot map (MobileNet and other
    backbones, ResNets other than 50/101, unknown heads).
    """
    keys = list(state)
    if any(
        k.startswith(
            ('backbone.low_level_features', 'backbone.high_level_features')
        )
        for k in keys
    ):
        raise VainFConversionError(
            'MobileNetV2 backbone (keys backbone.low_level_features.*) '
            'cannot be converted: only ResNet-50/101 models map to '
            "MMSegmentation's ResNet"
        )
    if 'backbone.layer1.0.conv1.weight' not in state:
        found = sorted({'.'.join(k.split('.')[:2]) for k in keys})[:6]
        raise VainFConversionError(
            'not a ResNet backbone (no backbone.layer1.0.conv1.weight; '
            f'found {found}); only ResNet-50/101 models can be converted'
        )
    blocks = tuple(
        len(
            {
                k.split('.')[2]
                for k in keys
                if k.startswith(f'backbone.layer{i}.')
            }
        )
        for i in range(1, 5)
    )
    if blocks not in RESNET_BLOCKS:
        raise VainFConversionError(
            f'ResNet with blocks per stage {blocks} is neither ResNet-50 '
            '(3, 4, 6, 3) nor ResNet-101 (3, 4, 23, 3)'
        )
    if 'classifier.aspp.project.0.weight' in state:
        arch, aspp, cls = (
            'deeplabv3plus',
            'classifier.aspp',
            'classifier.classifier.3.weight',
        )
    elif 'classifier.classifier.0.project.0.weight' in state:
        arch, aspp, cls = (
            'deeplabv3',
            'classifier.classifier.0',
            'classifier.classifier.4.weight',
        )
    else:
        raise VainFConversionError(
            'unknown head: neither classifier.aspp.project.0.weight '
            '(DeepLabV3+) nor classifier.classifier.0.project.0.weight '
            '(DeepLabV3) is present'
        )
    if cls not in state:
        raise VainFConversionError(f'missing classifier weight {cls}')
    separable = f'{aspp}.convs.1.0.body.0.weight' in state
    return VainFModelInfo(
        arch, RESNET_BLOCKS[blocks], separable, int(state[cls].shape[0])
    )


def _conv_bn(
    conv: str, bn: str, dst: str, separable: bool = False
) -> Dict[str, str]:
    """Module renames for a VainF (conv, bn) pair -> mmcv ConvModule."""
    if separable:
        return {
            f'{conv}.body.0': f'{dst}.depthwise_conv.conv',
            f'{conv}.body.1': f'{dst}.pointwise_conv.conv',
            bn: f'{dst}.pointwise_conv.bn',
        }
    return {conv: f'{dst}.conv', bn: f'{dst}.bn'}


def _aspp_renames(src: str, dst: str, separable: bool) -> Dict[str, str]:
    renames = _conv_bn(
        f'{src}.convs.0.0', f'{src}.convs.0.1', f'{dst}.aspp_modules.0'
    )
    for i in (1, 2, 3):
        renames.update(
            _conv_bn(
                f'{src}.convs.{i}.0',
                f'{src}.convs.{i}.1',
                f'{dst}.aspp_modules.{i}',
                separable,
            )
        )
    renames.update(
        _conv_bn(f'{src}.convs.4.1', f'{src}.convs.4.2', f'{dst}.image_pool.1')
    )
    renames.update(
        _conv_bn(f'{src}.project.0', f'{src}.project.1', f'{dst}.project')
    )
    return renames


def head_renames(info: VainFModelInfo) -> Dict[str, str]:
    """{VainF module name: MMSegmentation module name} for the head."""
    head, sep = 'decode_head', info.separable
    if info.arch == 'deeplabv3plus':
        renames = _conv_bn(
            'classifier.project.0',
            'classifier.project.1',
            f'{head}.c1_bottleneck',
        )
        renames.update(_aspp_renames('classifier.aspp', f'{head}.aspp', sep))
        renames.update(
            _conv_bn(
                'classifier.classifier.0',
                'classifier.classifier.1',
                f'{head}.bottleneck',
                sep,
            )
        )
        renames['classifier.classifier.3'] = f'{head}.conv_seg'
    else:
        renames = _aspp_renames('classifier.classifier.0', f'{head}.aspp', sep)
        renames.update(
            _conv_bn(
                'classifier.classifier.1',
                'classifier.classifier.2',
                f'{head}.bottleneck',
                sep,
            )
        )
        renames['classifier.classifier.4'] = f'{head}.conv_seg'
    return renames


def convert_vainf_state_dict(
    state: StateDict, info: Optional[VainFModelInfo] = None
) -> StateDict:
    """VainF ``model_state`` -> MMSegmentation ``EncoderDecoder`` state dict.

    Backbone keys keep their names; head keys are renamed. Raises
    VainFConversionError naming keys that have no counterpart.
    """
    info = info or inspect_vainf_state(state)
    renames = head_renames(info)
    out, unmapped = OrderedDict(), []
    for key, value in state.items():
        module, param = key.rsplit('.', 1)
        if key.startswith('backbone.'):
            out[key] = value
        elif module in renames:
            out[f'{renames[module]}.{param}'] = value
        else:
            unmapped.append(key)
    if unmapped:
        raise VainFConversionError(
            f'{len(unmapped)} unexpected key(s) in the VainF checkpoint '
            f'with no MMSegmentation counterpart: {unmapped[:5]}'
        )
    return out


def config_output_stride(model_cfg: dict) -> int:
    """Output stride of a ResNet backbone config: 4 * product(strides)."""
    strides = model_cfg['backbone'].get('strides', (1, 2, 2, 2))
    return 4 * int(np.prod(strides))


def output_stride_from_name(path: str) -> Optional[int]:
    """8 or 16 from ``..._os8.pth`` / ``..._os16.pth``, else None."""
    match = re.search(r'os(8|16)(?!\d)', osp.basename(path))
    return int(match.group(1)) if match else None


def default_config_path(
    info: VainFModelInfo, output_stride: int, config_dir: str
) -> str:
    """The configs/vainf config for a model with these properties."""
    if output_stride not in (8, 16):
        raise VainFConversionError(
            f'output stride must be 8 or 16, got {output_stride}'
        )
    name = (
        f'vainf-{info.arch}_r{info.depth}-os{output_stride}'
        '_4xb4-30k_voc12aug-513x513.py'
    )
    return osp.join(config_dir, name)


def check_config(info: VainFModelInfo, cfg: Config, config_path: str) -> None:
    """Refuse a config whose model disagrees with the checkpoint: head type,
    classes, separable convs, torchvision-style ResNet of the same depth,
    and ResNet strides / dilations and ASPP rates of VainF's output stride
    (which the weights do not record)."""
    model = cfg.model
    head, backbone = model['decode_head'], model['backbone']
    problems = []
    if head.get('type') != HEAD_TYPES[info.arch]:
        problems.append(
            f'decode_head.type is {head.get("type")!r}, the '
            f'checkpoint needs {HEAD_TYPES[info.arch]!r}'
        )
    if head.get('num_classes') != info.num_classes:
        problems.append(
            f'decode_head.num_classes is {head.get("num_classes")}, the '
            f'checkpoint has {info.num_classes} classes'
        )
    if bool(head.get('separable', False)) != info.separable:
        problems.append(
            f'decode_head.separable is '
            f'{bool(head.get("separable", False))}, the '
            f'checkpoint has separable={info.separable}'
        )
    if (
        backbone.get('type') not in ('ResNet', 'mmseg.ResNet')
        or backbone.get('deep_stem', False)
        or backbone.get('avg_down', False)
        or backbone.get('style', 'pytorch') != 'pytorch'
    ):
        problems.append(
            "the backbone is not torchvision's ResNet (needs "
            "type='ResNet', style='pytorch', deep_stem=False, "
            'avg_down=False)'
        )
    if any(d > 1 for d in backbone.get('dilations', ())) and not backbone.get(
        'contract_dilation', False
    ):
        problems.append(
            'dilated stages need contract_dilation=True (first '
            "block keeps the previous dilation, as torchvision's "
            'replace_stride_with_dilation)'
        )
    if backbone.get('depth') != info.depth:
        problems.append(
            f'backbone.depth is {backbone.get("depth")}, the '
            f'checkpoint is ResNet-{info.depth}'
        )
    strides = tuple(backbone.get('strides', (1, 2, 2, 2)))
    dilations = tuple(backbone.get('dilations', (1, 1, 1, 1)))
    rates = tuple(head.get('dilations', ()))
    layouts = {v[0]: (os_, v) for os_, v in OUTPUT_STRIDES.items()}
    if strides not in layouts:
        problems.append(
            f'backbone.strides {strides} is neither output '
            f'stride 16 {OUTPUT_STRIDES[16][0]} nor 8 '
            f'{OUTPUT_STRIDES[8][0]}'
        )
    else:
        os_, (_, want_dil, want_rates) = layouts[strides]
        if dilations != want_dil:
            problems.append(
                f'backbone.dilations {dilations} at output '
                f'stride {os_} should be {want_dil}'
            )
        if rates != want_rates:
            problems.append(
                f'decode_head.dilations (ASPP rates) {rates} at '
                f'output stride {os_} should be {want_rates}'
            )
    if problems:
        raise VainFConversionError(
            f'{config_path} does not match the '
            'checkpoint: ' + '; '.join(problems)
        )


def check_against_model(state: StateDict, model: torch.nn.Module) -> None:
    """Refuse converted weights that do not match ``model`` key for key and
    shape for shape (names and shapes only: ``model`` may live on the meta
    device)."""
    from ..engine.checkpoint import checkpoint_fit, fit_report

    misfit = checkpoint_fit(model, dict(state_dict=state), revise_keys=())
    if any(misfit):
        raise VainFConversionError(
            'converted weights do not fit the config model: '
            + fit_report(model, *misfit)
        )


def dataset_meta(cfg: Config, num_classes: int) -> Optional[dict]:
    """Classes and palette of the config's validation data set, if known."""
    from mmseg.registry import DATASETS

    dataset = cfg.get('val_dataloader', {}).get('dataset', {})
    cls = DATASETS.get(dataset.get('type', ''))
    meta = getattr(cls, 'METAINFO', {})
    if len(meta.get('classes', ())) != num_classes:
        return None
    return dict(
        classes=tuple(meta['classes']),
        palette=[list(c) for c in meta.get('palette', [])],
    )


def _check_outputs(outputs: Dict[str, str], inputs: Dict[str, str]) -> None:
    """:func:`~mmseg_stunet.utils.paths.check_outputs` raising
    :class:`VainFConversionError`."""
    try:
        check_outputs(outputs, inputs)
    except UnsafeOutputError as e:
        raise VainFConversionError(str(e)) from e


def convert_vainf_checkpoint(
    src: str,
    dst: str,
    config: Optional[str] = None,
    output_stride: Optional[int] = None,
    out_config: Optional[str] = None,
    config_dir: Optional[str] = None,
    trust: bool = False,
) -> Tuple[str, str]:
    """Convert VainF checkpoint ``src`` into MMSegmentation checkpoint ``dst``.

    Args:
        src (str): VainF checkpoint (``{'model_state': ...}``).
        dst (str): Output checkpoint ``{'meta': ..., 'state_dict': ...}``;
            must not end in ``.py`` (the config is written as ``.py``).
        config (str, optional): Target config; its model must agree with the
            checkpoint (head type, separable, depth, num_classes, strides,
            dilations, ASPP rates). Default: the config of
            ``config_dir`` matching the checkpoint.
        output_stride (int, optional): 8 or 16 when ``config`` is not given;
            default: read from the file name (``os8``/``os16``).
        out_config (str, optional): Where the complete config of the
            converted model is written (no ImageNet initialisation,
            ``load_from=dst``). Default: ``dst`` with ``.py``.
        config_dir (str, optional): Folder of the ``configs/vainf`` files;
            needed when ``config`` is not given.
        trust (bool): Load ``src`` with ``weights_only=False``.

    Nothing is written unless every check passes. Returns (dst, out_config).
    """
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    if dst.lower().endswith('.py'):
        raise VainFConversionError(
            f'{dst}: the checkpoint would get a .py name (the config is '
            'written as <dst without extension>.py); use .pth'
        )
    config_key = '--out-config' if out_config else 'its config'
    out_config = out_config or osp.splitext(dst)[0] + '.py'
    outputs = {'DST': dst, config_key: out_config}
    _check_outputs(outputs, {'SRC': src, '--config': config})
    state, extra = load_vainf_checkpoint(src, trust=trust)
    try:
        info = inspect_vainf_state(state)
    except VainFConversionError as e:
        raise VainFConversionError(f'{src}: {e}') from e
    if config is None:
        output_stride = output_stride or output_stride_from_name(src)
        if output_stride is None:
            raise VainFConversionError(
                f'{src}: the output stride is not stored in the weights and '
                "not in the file name ('os8'/'os16'); pass output_stride "
                '(--output-stride 8 or 16) or a config'
            )
        if config_dir is None:
            raise VainFConversionError(
                'pass a config, or config_dir (the configs/vainf folder) to '
                'pick one for the checkpoint'
            )
        config = default_config_path(info, output_stride, config_dir)
        if not osp.isfile(config):
            raise VainFConversionError(f'{config}: config not found')
        _check_outputs(outputs, {'the chosen config': config})
        cfg = Config.fromfile(config)
        cfg.model.decode_head.separable = info.separable
        if info.num_classes != cfg.model.decode_head.num_classes:
            raise VainFConversionError(
                f'{src} has {info.num_classes} classes but {config} (VOC '
                f'2012) has {cfg.model.decode_head.num_classes}; pass a '
                f'config for a dataset with {info.num_classes} classes'
            )
    else:
        if not osp.isfile(config):
            raise VainFConversionError(f'{config}: config not found')
        cfg = Config.fromfile(config)
    check_config(info, cfg, config)
    if output_stride is not None and output_stride != config_output_stride(
        cfg.model
    ):
        raise VainFConversionError(
            f'{config} has output stride {config_output_stride(cfg.model)}, '
            f'but output_stride={output_stride} was requested'
        )

    converted = convert_vainf_state_dict(state, info)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    # The weights come from the checkpoint, not from ImageNet.
    cfg.model.pretrained = None
    cfg.model.backbone.pop('init_cfg', None)
    cfg.load_from = osp.abspath(dst)
    model_cfg = copy.deepcopy(cfg.model)
    with torch.device('meta'):  # names and shapes only, no memory
        model = MODELS.build(model_cfg)
    check_against_model(converted, model)

    meta = dict(
        vainf=dict(asdict(info), **extra),
        output_stride=config_output_stride(cfg.model),
        config=osp.basename(config),
    )
    classes = dataset_meta(cfg, info.num_classes)
    if classes:
        meta['dataset_meta'] = classes
    for path in (out_config, dst):
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    # Both files are written before either is moved into place.
    with atomic_write(out_config) as tmp_cfg, atomic_write(dst) as tmp_ckpt:
        cfg.dump(tmp_cfg)
        torch.save(dict(meta=meta, state_dict=converted), tmp_ckpt)
    return dst, out_config
