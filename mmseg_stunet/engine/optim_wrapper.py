"""Mixed precision on CUDA and on CPU from one optimiser wrapper."""

import functools
from typing import Optional, Union

import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS

from .errors import ConfigError

__all__ = ['MixedPrecisionOptimWrapper', 'cpu_bf16_support', 'check_cpu_bf16']


@functools.lru_cache(None)
def cpu_bf16_support() -> str:
    """How this CPU runs bfloat16: ``'native'`` (AVX512-BF16 or AMX
    instructions), ``'emulated'`` (oneDNN converts through AVX-512 float32,
    at most as fast as float32) or ``'none'``."""
    flags = set()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    flags.update(line.split(':', 1)[1].split())
                    break
    except OSError:
        pass
    if flags & {'avx512_bf16', 'amx_bf16'}:
        return 'native'
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return 'emulated'
    return 'none'


def check_cpu_bf16() -> None:
    """Raise :class:`ConfigError` unless this CPU has bfloat16
    instructions: emulated bfloat16 runs slower than float32."""
    support = cpu_bf16_support()
    if support != 'native':
        raise ConfigError(
            f'mixed precision (--amp) on this CPU: its bfloat16 is {support} '
            '(no AVX512-BF16 or AMX instructions) and would run slower than '
            'float32; run without --amp (or with optim_wrapper type '
            "'OptimWrapper' and no fp16 in val_cfg / test_cfg)"
        )


def _accelerator() -> bool:
    return torch.cuda.is_available()


@OPTIM_WRAPPERS.register_module()
class MixedPrecisionOptimWrapper(AmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper`` on CUDA, bfloat16 autocast on CPU.

    On CUDA it is ``AmpOptimWrapper`` unchanged (float16 autocast and
    dynamic loss scaling by default; ``dtype='bfloat16'`` works too).
    ``AmpOptimWrapper`` refuses to be built without a GPU; on CPU this
    wrapper runs the forward pass under bfloat16 autocast and steps without
    a loss scaler: bfloat16 has float32's exponent range, so gradients do
    not underflow and scaling would only cost time. A CPU without bfloat16
    instructions (:func:`cpu_bf16_support` not ``'native'``) is refused with
    an error that says so, since emulated bfloat16 is slower than float32.

    Args: those of ``AmpOptimWrapper`` (``loss_scale``, ``dtype``,
    ``use_fsdp``) and ``OptimWrapper``; on CPU ``dtype`` must be None or
    bfloat16 and ``loss_scale`` is unused.
    """

    def __init__(
        self,
        loss_scale: Union[str, float, dict] = 'dynamic',
        dtype: Optional[Union[str, torch.dtype]] = None,
        use_fsdp: bool = False,
        **kwargs,
    ):
        if _accelerator():
            super().__init__(loss_scale, dtype, use_fsdp, **kwargs)
            return
        if dtype not in (None, 'bfloat16', torch.bfloat16):
            raise ConfigError(
                f'mixed precision on CPU runs in bfloat16, not {dtype}; '
                'remove optim_wrapper.dtype'
            )
        check_cpu_bf16()
        OptimWrapper.__init__(self, **kwargs)
        self.loss_scaler = None
        self._scale_update_param = None
        self.cast_dtype = torch.bfloat16

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        if self.loss_scaler is None:
            return OptimWrapper.backward(self, loss, **kwargs)
        return super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        if self.loss_scaler is None:
            return OptimWrapper.step(self, **kwargs)
        return super().step(**kwargs)

    def state_dict(self) -> dict:
        if self.loss_scaler is None:
            return OptimWrapper.state_dict(self)
        return super().state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        if self.loss_scaler is None:  # a CUDA run resumed on CPU
            state_dict.pop('loss_scaler', None)
            return OptimWrapper.load_state_dict(self, state_dict)
        return super().load_state_dict(state_dict)
