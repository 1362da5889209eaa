"""Distributed training on CPU-only machines (gloo), for ``dist_train.sh``.

mmengine 0.10.7 assumes CUDA in two places of a ``--launcher pytorch`` run:
``_init_dist_pytorch`` calls ``torch.cuda.set_device`` (an AttributeError on
CPU builds of torch) and the runner passes ``device_ids=[LOCAL_RANK]`` to
DDP (a ValueError for CPU modules). :func:`patch_init_dist_for_cpu`
initialises the process group with gloo, without touching CUDA, when CUDA is
absent; :func:`use_cpu_ddp` points a config at ``CPUDistributedDataParallel``,
which drops the device ids for CPU modules. Machines with CUDA take
mmengine's own path unchanged.
"""

from typing import List, Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.dist import utils as dist_utils
from mmengine.model import MMDistributedDataParallel
from mmseg.registry import MODEL_WRAPPERS
from torch import nn

_cuda_init_dist_pytorch = dist_utils._init_dist_pytorch


def _init_dist_pytorch(
    backend: str, init_backend: str = 'torch', **kwargs
) -> None:
    if torch.cuda.is_available() or init_backend != 'torch':
        return _cuda_init_dist_pytorch(
            backend, init_backend=init_backend, **kwargs
        )
    torch_dist.init_process_group(backend='gloo', **kwargs)


def patch_init_dist_for_cpu() -> None:
    """Route mmengine's pytorch launcher to gloo when CUDA is absent.

    Called by :func:`mmseg_stunet.engine.runner.load_config` for a
    distributed launch on a machine without CUDA, not at import."""
    dist_utils._init_dist_pytorch = _init_dist_pytorch


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that accepts CPU modules."""

    def __init__(
        self,
        module: nn.Module,
        device_ids: Optional[List[int]] = None,
        **kwargs,
    ):
        if next(module.parameters()).device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def use_cpu_ddp(cfg: Config) -> Config:
    """Wrap the model of ``cfg`` in ``CPUDistributedDataParallel``.

    The type is scope-qualified: the runner checks it in mmengine's root
    registry and builds it in the default scope's (mmseg) registry.
    """
    wrapper = cfg.get('model_wrapper_cfg') or {}
    wrapper['type'] = 'mmseg.CPUDistributedDataParallel'
    cfg.model_wrapper_cfg = wrapper
    return cfg
