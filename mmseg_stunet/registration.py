"""Register the package's modules without importing them at package import.

``import mmseg_stunet`` must register the models, data sets, hooks, ... in
MMSegmentation's registries (configs name them in ``custom_imports``) yet
cost little: torch, mmcv and ``mmseg.models`` take seconds to import, and
the tools' ``--help`` needs none of them. mmengine's registries already
import their modules lazily: a registry made with ``locations=[...]``
imports those modules the first time it is asked for a name
(``Registry.get`` / ``build`` call ``import_from_location``).
:func:`register` appends this package's modules to the ``locations`` of
the MMSegmentation registries they register into (:data:`LOCATIONS`):

* ``mmseg.registry`` already imported and the registry already searched
  (``_imported``): the modules are imported now, as an eager import would;
* ``mmseg.registry`` imported, not yet searched: the locations are added;
  the first ``get`` / ``build`` imports them with MMSegmentation's own;
* ``mmseg.registry`` not imported yet: the locations are added right after
  it is (a post-import hook, :func:`when_imported`).

The checkpoint allow-list (:mod:`mmseg_stunet.compat`, needs torch and
mmengine's ``HistoryBuffer``) is applied likewise: now if torch and
``mmengine.logging`` are loaded, else right after
``mmengine.runner.checkpoint`` (where mmengine calls ``torch.load``) or
``mmseg_stunet.engine.checkpoint`` is imported.
"""

import importlib
import importlib.abc
import sys
from typing import Callable, Dict, List, Sequence

__all__ = ['LOCATIONS', 'register', 'when_imported']

#: registry name in ``mmseg.registry`` -> modules of this package that
#: register into it (``models`` also registers DCNv2 in mmengine's root
#: MODELS, reached as the parent of MMSegmentation's)
LOCATIONS: Dict[str, Sequence[str]] = {
    'MODELS': ('mmseg_stunet.models',),
    'DATASETS': (
        'mmseg_stunet.datasets.isprs',
        'mmseg_stunet.datasets.loveda',
    ),
    'TRANSFORMS': ('mmseg_stunet.datasets.transforms',),
    'METRICS': ('mmseg_stunet.evaluation',),
    'HOOKS': ('mmseg_stunet.engine.hooks',),
    'RUNNERS': ('mmseg_stunet.engine.runner',),
    'MODEL_WRAPPERS': ('mmseg_stunet.engine.cpu_distributed',),
    'OPTIM_WRAPPERS': ('mmseg_stunet.engine.optim_wrapper',),
}

_HOOKS: Dict[str, List[Callable[[], None]]] = {}


def _loaded(name: str) -> bool:
    module = sys.modules.get(name)
    spec = getattr(module, '__spec__', None)
    return module is not None and not getattr(spec, '_initializing', False)


def _run_hooks(name: str) -> None:
    for callback in _HOOKS.pop(name, []):
        callback()


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: for a module with hooks it asks the other
    finders for the spec and makes its loader run the hooks after the
    module's code."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _HOOKS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, 'exec_module', None)
        if exec_module is None:
            return spec

        def exec_then_hooks(module):
            exec_module(module)
            _run_hooks(fullname)

        # the loader is this spec's own instance: only this module changes
        loader.exec_module = exec_then_hooks
        return spec


_FINDER = _PostImportFinder()


def when_imported(name: str, callback: Callable[[], None]) -> None:
    """Call ``callback()`` now if module ``name`` is imported, else right
    after its code has run on its first import."""
    if _loaded(name):
        callback()
        return
    _HOOKS.setdefault(name, []).append(callback)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def _add_locations() -> None:
    registries = importlib.import_module('mmseg.registry')
    for attr, modules in LOCATIONS.items():
        registry = getattr(registries, attr)
        for module in modules:
            if module not in registry._locations:
                registry._locations.append(module)
            if registry._imported:  # already searched: import it now
                importlib.import_module(module)


_compat_done = False


def _allow_checkpoints() -> None:
    global _compat_done
    if not _compat_done:
        _compat_done = True
        importlib.import_module('mmseg_stunet.compat')


def register() -> None:
    """Register the package's modules and its checkpoint allow-list, each
    as soon as the modules it needs are loaded (see the module's text)."""
    when_imported('mmseg.registry', _add_locations)
    if _loaded('torch') and _loaded('mmengine.logging'):
        _allow_checkpoints()
    else:
        when_imported('mmengine.runner.checkpoint', _allow_checkpoints)
