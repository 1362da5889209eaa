"""Command-line pieces shared by the tools: argument types that check
their range (argparse then reports a bad value in one line and exits 2),
``--cfg-options`` parsing that names a malformed item, and ``--device``."""

import argparse
from typing import Callable, Optional, Sequence

#: the scene predictor's back-ends, as ``tools/predict.py --backend`` takes
#: them (``mmseg_stunet.apis.backends`` implements them; named here so that
#: ``--help`` needs no torch)
BACKENDS = ('pytorch', 'onnxruntime')

__all__ = [
    'int_range',
    'float_range',
    'positive_int',
    'non_negative_int',
    'non_negative_float',
    'device',
    'CfgOptionsAction',
    'add_model_options',
    'check_nargs',
]


def int_range(
    low: Optional[int] = None, high: Optional[int] = None
) -> Callable[[str], int]:
    """An argparse ``type``: a whole number in ``[low, high]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'{text!r} is not a whole number'
            ) from None
        _check(text, value, low, high)
        return value

    parse.__name__ = 'whole number'
    return parse


def float_range(
    low: Optional[float] = None, high: Optional[float] = None
) -> Callable[[str], float]:
    """An argparse ``type``: a finite number in ``[low, high]``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'{text!r} is not a number'
            ) from None
        if value != value or value in (float('inf'), float('-inf')):
            raise argparse.ArgumentTypeError(f'{text} is not a finite number')
        _check(text, value, low, high)
        return value

    parse.__name__ = 'number'
    return parse


def _check(text: str, value: float, low, high) -> None:
    if (low is not None and value < low) or (
        high is not None and value > high
    ):
        if high is None:
            want = f'at least {low}'
        elif low is None:
            want = f'at most {high}'
        else:
            want = f'between {low} and {high}'
        raise argparse.ArgumentTypeError(
            f'{text} is out of range: must be {want}'
        )


positive_int = int_range(1)
non_negative_int = int_range(0)
non_negative_float = float_range(0)


def device(text: str) -> str:
    """An argparse ``type`` for ``--device``: a device torch knows and this
    machine has (``cpu``, ``cuda``, ``cuda:N``, ``mps``)."""
    import torch

    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a device (cpu, cuda, cuda:N)'
        ) from None
    if dev.type == 'cuda':
        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(
                f'{text}: this machine has no CUDA device usable by torch '
                f'{torch.__version__}; use --device cpu'
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(
                f'{text}: only {torch.cuda.device_count()} CUDA device(s)'
            )
    elif dev.type == 'mps':
        backend = getattr(torch.backends, 'mps', None)
        if backend is None or not backend.is_available():
            raise argparse.ArgumentTypeError(f'{text}: MPS is not available')
    elif dev.type != 'cpu':
        raise argparse.ArgumentTypeError(
            f'{text!r}: unsupported device type (cpu, cuda, cuda:N)'
        )
    return text


class CfgOptionsAction(argparse.Action):
    """mmengine's ``DictAction`` (``key=value`` items; values parsed as
    numbers, booleans, None, lists or tuples) that names an item without
    ``=`` or with an empty key instead of failing with a traceback.

    mmengine's class is imported when the option is given, not when the
    parser is built: ``--help`` does not wait for ``mmengine.config``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Optional[Sequence[str]],
        option_string: Optional[str] = None,
    ) -> None:
        for item in values or ():
            key, eq, _ = item.partition('=')
            if not eq or not key.strip():
                raise argparse.ArgumentError(
                    self,
                    f'{item!r} is not KEY=VALUE (e.g. '
                    'train_cfg.max_iters=1000)',
                )
        from mmengine.config import DictAction

        parse = DictAction(self.option_strings, self.dest, nargs=self.nargs)
        parse(parser, namespace, values, option_string)


def check_nargs(
    parser: argparse.ArgumentParser,
    option: str,
    values: Optional[Sequence],
    counts: Sequence[int],
    what: str,
) -> None:
    """``parser.error`` (exit 2) unless ``values`` is None or has one of
    ``counts`` items."""
    if values is not None and len(values) not in counts:
        parser.error(
            f'argument {option}: takes {what}, got {len(values)} values'
        )


def add_model_options(
    parser: argparse.ArgumentParser, cfg_options: bool = True
) -> argparse.ArgumentParser:
    """``--allow-partial`` (and ``--cfg-options`` unless ``cfg_options`` is
    false: the runner's tools have their own) of the tools that build a
    model from CONFIG CHECKPOINT."""
    parser.add_argument(
        '--allow-partial',
        action='store_true',
        help='use a checkpoint whose weights do not all fit the model '
        '(missing, or of another shape; default: refuse it)',
    )
    if cfg_options:
        parser.add_argument(
            '--cfg-options',
            nargs='+',
            action=CfgOptionsAction,
            help='override config settings, key=value',
        )
    return parser
