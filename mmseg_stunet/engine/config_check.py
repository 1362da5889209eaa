"""Reading a config for the tools with one-line errors, and the checks of
``--cfg-options`` and of ``type`` names that run before anything is built.

``--cfg-options KEY=VALUE`` (mmengine's ``merge_from_dict``) adds a key that
does not exist without a word, so a typo (``train_cfg.max_iter=5``) changes
nothing and the run goes on. The rule applied here (:func:`check_cfg_options`):

* a key that exists in the config may be set (list items by index,
  ``param_scheduler.0.power``); a number may not become text, a whole
  number may not become a fraction, and ``True``/``False`` stay booleans;
* a new key is accepted only where the dict it is added to takes new keys:

  - a dict with a ``type`` takes the keyword arguments of that class
    (those of its base classes too while it passes ``**kwargs`` on;
    anything when the chain never ends in named arguments);
  - ``train_cfg`` / ``val_cfg`` / ``test_cfg`` without ``type`` take the
    arguments of the loop mmengine builds from them, the ``*_dataloader``
    dicts those of torch's ``DataLoader`` and the keys mmengine reads
    (``dataset``, ``sampler``, ``batch_sampler``, ``collate_fn``,
    ``num_batch_per_epoch``);
  - the top level takes the arguments of mmengine's ``Runner`` and the
    keys this project and MMSegmentation's tools read
    (:data:`TOP_LEVEL_KEYS`);
  - every other dict without ``type`` (``model.test_cfg``,
    ``data_prefix``, ``default_hooks``, ``env_cfg``, ...) is free-form
    and takes any key.

  Below a new key, anything goes (it is a new value). A refused key is
  named with the closest existing key (``difflib``).
"""

import ast
import difflib
import inspect
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

from mmengine.config import Config

from .errors import ConfigError

__all__ = [
    'read_config',
    'read_config_file',
    'check_cfg_options',
    'check_types',
    'registered_names',
    'TOP_LEVEL_KEYS',
    'CONFIG_SUFFIXES',
]

CONFIG_SUFFIXES = ('.py', '.yml', '.yaml', '.json')
#: top-level keys read besides ``Runner``'s arguments
TOP_LEVEL_KEYS = frozenset(
    {
        'runner_type',
        'allow_partial_checkpoint',
        'channels_last',
        'tta_model',
        'tta_pipeline',
        'train_pipeline',
        'test_pipeline',
        'val_pipeline',
        'custom_imports',
        'default_scope',
        'log_level',
        'dataset_type',
        'data_root',
        'crop_size',
        'norm_cfg',
        'metainfo',
        'img_scale',
        'vis_backends',
    }
)
_LOADER_KEYS = frozenset(
    {
        'dataset',
        'sampler',
        'batch_sampler',
        'collate_fn',
        'num_batch_per_epoch',
        'worker_init_fn',
    }
)
_ANY = None  # "takes any key"
#: keys of a typed dict that the builders take, not the class
#: (mmcv's ``build_norm_layer`` pops ``requires_grad``)
_BUILDER_KEYS = frozenset({'type', '_scope_', 'requires_grad'})


def _registries() -> Iterator:
    import mmengine.registry as root

    # MMSegmentation's registries (children of mmengine's) exist once
    # mmseg.registry is imported; importing it also lists this package's
    # modules as their locations (mmseg_stunet.registration)
    import mmseg.registry  # noqa: F401

    def walk(reg):
        yield reg
        for child in reg.children.values():
            yield from walk(child)

    for value in vars(root).values():
        if isinstance(value, root.Registry):
            yield from walk(value)


def registered_names() -> Dict[str, object]:
    """Every name of every registry (mmengine's and its children:
    MMSegmentation's, this project's), with the first object found."""
    registries = list(_registries())
    # every location first: importing one registry's modules can register
    # into another (``mmseg_stunet.models``, a location of MMSegmentation's
    # MODELS, registers DeformConvV2 into mmengine's root MODELS)
    for reg in registries:
        try:
            reg.import_from_location()
        except Exception:  # noqa: B902  (a location that fails to import)
            pass
    names: Dict[str, object] = {}
    for reg in registries:
        for name, obj in reg.module_dict.items():
            names.setdefault(name, obj)
    return names


def read_config(
    path: str,
    cfg_options: Optional[dict] = None,
    needs: Sequence[str] = ('model',),
) -> Config:
    """``Config.fromfile(path)`` with ``cfg_options`` merged, or one-line
    errors naming the file, key or option.

    Checks that ``path`` is a config file (``.py``, ``.yml``/``.yaml``,
    ``.json``; a checkpoint given as the config is named as such) that
    parses and runs, that it defines the keys in ``needs``, that
    ``cfg_options`` follow the rule of this module
    (:func:`check_cfg_options`) and that every ``type`` is registered
    (:func:`check_types`).

    Raises:
        FileNotFoundError: no such file.
        ConfigError: anything else wrong with the file or the options.
    """
    cfg = read_config_file(path, needs)
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    check_types(cfg, path)
    return cfg


def read_config_file(path: str, needs: Sequence[str] = ('model',)) -> Config:
    """The first half of :func:`read_config`: the file alone, checked to
    be a config that parses, runs and defines ``needs``."""
    if osp.isdir(path):
        raise ConfigError(f'{path} is a folder, not a config file')
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    suffix = osp.splitext(path)[1].lower()
    if suffix not in CONFIG_SUFFIXES:
        hint = (
            ' (it looks like a checkpoint: the config comes first, '
            'then the checkpoint)'
            if suffix in ('.pth', '.pt', '.ckpt')
            else ''
        )
        raise ConfigError(
            f'{path} is not a config file: configs are '
            f'.py, .yml/.yaml or .json files{hint}'
        )
    if suffix == '.py':
        with open(path, encoding='utf-8', errors='replace') as f:
            source = f.read()
        try:
            ast.parse(source, path)
        except SyntaxError as err:
            raise ConfigError(
                f'{path}: syntax error in line {err.lineno}: {err.msg}'
            ) from None
    try:
        cfg = Config.fromfile(path)
    except Exception as err:  # noqa: B902  (any failure reading the file)
        from .errors import one_line

        raise ConfigError(
            f'{path}: cannot be read: {type(err).__name__}: {one_line(err)}'
        ) from None
    for key in needs:
        if cfg.get(key) is None:
            what = (
                'it is empty'
                if not cfg.to_dict()
                else f'it defines {", ".join(sorted(cfg.keys())[:6])}'
            )
            raise ConfigError(f'{path}: no `{key}` in the config ({what})')
    return cfg


def _walk_types(node, key: str) -> Iterator[Tuple[str, str]]:
    if isinstance(node, dict):
        kind = node.get('type')
        if isinstance(kind, str):
            yield f'{key}.type' if key else 'type', kind
        for k, v in node.items():
            yield from _walk_types(v, f'{key}.{k}' if key else str(k))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _walk_types(v, f'{key}.{i}')


def check_types(cfg: Config, path: str = 'config') -> None:
    """Raise :class:`ConfigError` naming the key of the first ``type`` that
    no registry holds, with the closest registered names. Scoped
    (``mmpretrain.X``) and dotted names are left to mmengine."""
    names = None
    for key, kind in _walk_types(cfg.to_dict(), ''):
        if '.' in kind:
            continue
        if names is None:
            names = registered_names()
        if kind not in names:
            close = difflib.get_close_matches(kind, list(names), n=3)
            hint = (
                f'; did you mean {" or ".join(map(repr, close))}?'
                if close
                else ''
            )
            raise ConfigError(
                f'{path}: {key}={kind!r} is not a registered type{hint}'
            )


def _flat_keys(node, key: str = '') -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            sub = f'{key}.{k}' if key else str(k)
            yield sub
            yield from _flat_keys(v, sub)
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            sub = f'{key}.{i}'
            yield sub
            yield from _flat_keys(v, sub)


def _init_params(obj) -> Optional[Set[str]]:
    """Keyword names ``obj`` (a class or function) takes, following
    ``**kwargs`` up the base classes; None when it takes any."""
    if not inspect.isclass(obj):
        try:
            sig = inspect.signature(obj)
        except (TypeError, ValueError):
            return _ANY
        if any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
            return _ANY
        return set(sig.parameters)
    names: Set[str] = set()
    for klass in obj.__mro__:
        if '__init__' not in vars(klass):
            continue
        if klass is object:
            return _ANY
        try:
            sig = inspect.signature(vars(klass)['__init__'])
        except (TypeError, ValueError):
            return _ANY
        names.update(
            n
            for n, p in sig.parameters.items()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        )
        if not any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
            return names - {'self'}
    return _ANY


def _takes(parent, path: List[str], names) -> Optional[Set[str]]:
    """The new keys the dict ``parent`` at ``path`` takes (None: any)."""
    kind = parent.get('type')
    if isinstance(kind, str):
        obj = names().get(kind) if '.' not in kind else None
        params = None if obj is None else _init_params(obj)
        return _ANY if params is None else params | _BUILDER_KEYS
    if not isinstance(kind, type(None)):  # a class object (lazy configs)
        params = _init_params(kind)
        return _ANY if params is None else params | _BUILDER_KEYS
    if not path:
        from mmengine.runner import Runner

        return _init_params(Runner) | TOP_LEVEL_KEYS
    if len(path) == 1 and path[0].endswith('_dataloader'):
        from torch.utils.data import DataLoader

        return _init_params(DataLoader) | _LOADER_KEYS
    if len(path) == 1 and path[0] in ('train_cfg', 'val_cfg', 'test_cfg'):
        from mmengine.runner import (
            EpochBasedTrainLoop,
            IterBasedTrainLoop,
            TestLoop,
            ValLoop,
        )

        loop = {'val_cfg': ValLoop, 'test_cfg': TestLoop}.get(path[0])
        if loop is None:
            loop = (
                EpochBasedTrainLoop
                if parent.get('by_epoch', True)
                else IterBasedTrainLoop
            )
            if 'max_iters' in parent:
                loop = IterBasedTrainLoop
        return (_init_params(loop) or set()) - {
            'runner',
            'dataloader',
            'evaluator',
        } | {'by_epoch'}
    return _ANY


def _suggest(key: str, candidates: List[str]) -> str:
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    if not close:
        last = key.rsplit('.', 1)[-1]
        by_last = {c.rsplit('.', 1)[-1]: c for c in reversed(candidates)}
        found = difflib.get_close_matches(
            last, list(by_last), n=1, cutoff=0.75
        )
        close = [by_last[found[0]]] if found else []
    return f'; did you mean {close[0]}?' if close else ''


def _check_value(key: str, old, new) -> None:
    if new is None or old is None:
        return
    if isinstance(old, bool):
        if not isinstance(new, bool):
            raise ConfigError(
                f'--cfg-options {key}={new!r}: {key} is '
                f'{old}; it takes True or False'
            )
    elif isinstance(old, (int, float)):
        if isinstance(new, bool) or not isinstance(new, (int, float)):
            raise ConfigError(
                f'--cfg-options {key}={new!r}: {key} is '
                f'{old!r}; it takes a number'
            )
        if (
            isinstance(old, int)
            and isinstance(new, float)
            and not new.is_integer()
        ):
            raise ConfigError(
                f'--cfg-options {key}={new!r}: {key} takes a '
                f'whole number (it is {old!r})'
            )


def check_cfg_options(cfg: Config, cfg_options: dict) -> None:
    """Refuse ``--cfg-options`` items that would add a key nothing reads,
    index past the end of a list, or give a value of another kind than the
    one they replace (the rule is in this module's docstring).

    Raises:
        ConfigError: one line naming the item and the closest existing key.
    """
    tree = cfg.to_dict()
    cache: Dict[str, Dict[str, object]] = {}

    def names() -> Dict[str, object]:
        if 'names' not in cache:
            cache['names'] = registered_names()
        return cache['names']

    for key, value in cfg_options.items():
        parts = key.split('.')
        node, path = tree, []
        for i, part in enumerate(parts):
            if isinstance(node, (list, tuple)):
                if not part.isdigit():
                    raise ConfigError(
                        f'--cfg-options {key}: {".".join(path)} is a list; '
                        'index it by number (e.g. '
                        f'{".".join(path + ["0"] + parts[i:])})'
                    )
                if int(part) >= len(node):
                    raise ConfigError(
                        f'--cfg-options {key}: {".".join(path + [part])} '
                        f'does not exist: {".".join(path) or "the list"} has '
                        f'{len(node)} item{"s" if len(node) != 1 else ""}'
                    )
                node, path = node[int(part)], path + [part]
                continue
            if not isinstance(node, dict):
                break  # below a scalar mmengine replaces it by a dict
            if part in node:
                node, path = node[part], path + [part]
                if i == len(parts) - 1:
                    _check_value(key, node, value)
                continue
            takes = _takes(node, path, names)
            if takes is _ANY or part in takes:
                break
            candidates = list(_flat_keys(tree)) + [
                '.'.join(path + [t]) for t in sorted(takes)
            ]
            where = '.'.join(path) or 'the top level of the config'
            raise ConfigError(
                f'--cfg-options {key}: no such key in the config, and '
                f'{where} takes no new key {part!r}{_suggest(key, candidates)}'
            )
