"""A model whose heads predict another number of classes than its data set
has stops the run, naming both."""

from typing import Iterator, List, Tuple

from mmengine.hooks import Hook
from mmengine.runner import BaseLoop, Runner
from mmseg.registry import HOOKS
from torch import nn

from ..checkpoint import unwrap_model
from ..errors import ConfigError


def head_class_counts(model: nn.Module) -> List[Tuple[str, int]]:
    """``(config key, num_classes)`` of every decode and auxiliary head of
    a segmentor (a cascade's heads and lists of auxiliary heads included),
    e.g. ``('model.decode_head.num_classes', 6)``."""
    model = unwrap_model(model)
    counts = []
    for attr in ('decode_head', 'auxiliary_head'):
        heads = getattr(model, attr, None)
        if heads is None:
            continue
        if isinstance(heads, nn.ModuleList):
            items = [(f'model.{attr}.{i}', h) for i, h in enumerate(heads)]
        else:
            items = [(f'model.{attr}', heads)]
        counts += [
            (f'{key}.num_classes', head.num_classes)
            for key, head in items
            if hasattr(head, 'num_classes')
        ]
    return counts


def _datasets(runner: Runner) -> Iterator[Tuple[str, object]]:
    """``(config key, dataset)`` of each loop this run has built."""
    for name in ('train', 'val', 'test'):
        loop = getattr(runner, f'_{name}_loop', None)
        if isinstance(loop, BaseLoop):
            yield f'{name}_dataloader.dataset', loop.dataloader.dataset


@HOOKS.register_module()
class ClassCountCheckHook(Hook):
    """Refuse a model whose heads' ``num_classes`` differ from the number
    of classes of the data sets it trains, validates or tests on.

    MMSegmentation builds both and runs: a head of more classes than the
    data set trains on labels that never reach its extra outputs and is
    scored over the data set's classes only (a 6-class ISPRS model on a
    3-class data set scored OA 0.00 with exit code 0); one of fewer classes
    fails deep in the loss. This hook compares them before the run starts
    and raises :class:`~mmseg_stunet.engine.errors.ConfigError` naming both
    numbers and both config keys.

    In the project's runtime config, so ``tools/train.py``,
    ``tools/test.py``, ``mim train`` and ``mim test`` all check.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner: Runner) -> None:
        heads = head_class_counts(runner.model)
        for data_key, dataset in _datasets(runner):
            classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
            if not classes:
                continue
            for head_key, count in heads:
                if count != len(classes):
                    raise ConfigError(
                        f'{head_key}={count} but {data_key} has '
                        f'{len(classes)} classes (metainfo classes: '
                        f'{", ".join(map(str, classes))}); set {head_key}='
                        f'{len(classes)} or use a data set of {count} '
                        'classes'
                    )
