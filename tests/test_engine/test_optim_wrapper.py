"""Mixed precision on CPU: bfloat16 autocast without loss scaling, a clear
refusal where the CPU has no bfloat16 instructions."""

import pytest
import torch
from mmseg.registry import OPTIM_WRAPPERS

from mmseg_stunet.engine import ConfigError, optim_wrapper
from mmseg_stunet.engine.runner import enable_amp

cpu_only = pytest.mark.skipif(
    torch.cuda.is_available(), reason='the CPU path of the wrapper'
)


def _wrapper(model, **kwargs):
    return OPTIM_WRAPPERS.build(
        dict(
            type='MixedPrecisionOptimWrapper',
            optimizer=torch.optim.SGD(
                model.parameters(), lr=0.1, momentum=0.9
            ),
            **kwargs,
        )
    )


@cpu_only
def test_cpu_step_runs_in_bfloat16_without_loss_scaler(monkeypatch):
    # torch computes bfloat16 on any CPU (emulated, slowly, without the
    # instructions): the wrapper's logic is tested everywhere
    monkeypatch.setattr(optim_wrapper, 'cpu_bf16_support', lambda: 'native')
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 1, 1)
    )
    wrapper = _wrapper(model)
    assert wrapper.loss_scaler is None
    before = model[0].weight.detach().clone()
    with wrapper.optim_context(model):
        out = model(torch.randn(2, 3, 9, 9))
        assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().square().mean())
    assert not torch.equal(model[0].weight, before)
    assert model[0].weight.dtype == torch.float32
    state = wrapper.state_dict()
    assert 'loss_scaler' not in state and state['state']
    # a checkpoint of a CUDA run carries a loss-scaler state: resumable here
    wrapper.load_state_dict(dict(state, loss_scaler=dict(scale=65536.0)))
    with pytest.raises(ConfigError, match='bfloat16, not'):
        _wrapper(model, dtype='float16')


@cpu_only
def test_cpu_without_bfloat16_instructions_is_refused_plainly(monkeypatch):
    monkeypatch.setattr(optim_wrapper, 'cpu_bf16_support', lambda: 'emulated')
    with pytest.raises(ConfigError) as e:
        _wrapper(torch.nn.Linear(2, 2))
    msg = str(e.value)
    assert 'bfloat16 is emulated' in msg and 'without --amp' in msg
    from mmengine.config import Config

    with pytest.raises(ConfigError, match='bfloat16 is emulated'):
        enable_amp(Config(dict(optim_wrapper=dict(type='OptimWrapper'))))


def test_enable_amp_sets_wrapper_loops_and_channels_last(monkeypatch):
    from mmengine.config import Config

    monkeypatch.setattr(optim_wrapper, 'cpu_bf16_support', lambda: 'native')
    cfg = enable_amp(
        Config(
            dict(
                optim_wrapper=dict(type='OptimWrapper'),
                val_cfg=dict(type='ValLoop'),
                test_cfg=dict(type='TestLoop'),
            )
        )
    )
    assert cfg.optim_wrapper.type == 'MixedPrecisionOptimWrapper'
    assert cfg.val_cfg.fp16 and cfg.test_cfg.fp16 and cfg.channels_last
