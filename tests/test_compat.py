"""The checkpoint allow-list: mmengine's own checkpoints load under torch's
``weights_only`` default, anything else is still refused."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import load_checkpoint, save_checkpoint

import mmseg_stunet  # noqa: F401


class NotAllowListed:
    """A class no allow-list knows."""

    def __init__(self):
        self.value = 1


def _mmengine_like_checkpoint():
    hub = MessageHub.get_instance('compat-test')
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_scalar('train/loss', 0.25)
    hub.update_info('iter', 7)
    model = torch.nn.Linear(2, 3)
    optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 2)).sum().backward()
    optim.step()
    return dict(
        meta=dict(
            iter=7,
            seed=np.int64(3),
            dataset_meta=dict(classes=('a', 'b'), palette=[[0, 0, 0]]),
            score=np.float32(0.75),
        ),
        state_dict=model.state_dict(),
        optimizer=optim.state_dict(),
        message_hub=hub.state_dict(),
    )


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    ckpt = _mmengine_like_checkpoint()
    save_checkpoint(ckpt, path)
    loaded = torch.load(path, map_location='cpu')  # weights_only default
    buf = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer)
    np.testing.assert_allclose(buf.data[0], [0.5, 0.25])
    assert loaded['meta']['seed'] == 3 and loaded['meta']['iter'] == 7
    assert torch.equal(
        loaded['state_dict']['weight'], ckpt['state_dict']['weight']
    )
    explicit = torch.load(path, map_location='cpu', weights_only=True)
    assert explicit['meta']['score'] == np.float32(0.75)
    # mmengine's own loader (used by resume, init_model, tools/test.py).
    model = torch.nn.Linear(2, 3)
    load_checkpoint(model, path, map_location='cpu')
    assert torch.equal(model.weight, ckpt['state_dict']['weight'])


def test_object_outside_allow_list_is_refused(tmp_path):
    path = str(tmp_path / 'bad.pth')
    ckpt = _mmengine_like_checkpoint()
    ckpt['meta']['extra'] = NotAllowListed()
    save_checkpoint(ckpt, path)
    with pytest.raises(pickle.UnpicklingError, match='NotAllowListed'):
        torch.load(path, map_location='cpu')
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(torch.nn.Linear(2, 3), path, map_location='cpu')


def test_without_plugin_torch_refuses_mmengine_checkpoint(tmp_path):
    """Shows the allow-list is what makes loading work."""
    path = str(tmp_path / 'ckpt.pth')
    save_checkpoint(_mmengine_like_checkpoint(), path)
    code = (
        'import sys, torch\n'
        'try:\n'
        f'    torch.load({path!r}, map_location="cpu")\n'
        'except Exception as e:\n'
        '    print(type(e).__name__, e); sys.exit(3)\n'
    )
    proc = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert 'HistoryBuffer' in proc.stdout or 'numpy' in proc.stdout


def test_getattr_is_only_allowed_on_history_buffer(tmp_path):
    """HistoryBuffer pickles its methods via getattr; nothing else may."""
    import io

    class Reduces:
        def __reduce__(self):
            return getattr, ('abc', 'upper')

    path = str(tmp_path / 'getattr.pth')
    torch.save({'x': Reduces()}, path)
    with pytest.raises(pickle.UnpicklingError, match='getattr'):
        torch.load(path, map_location='cpu')
    buf = io.BytesIO()
    torch.save({'hb': HistoryBuffer([1.0], [1])}, buf)
    buf.seek(0)
    assert torch.load(buf)['hb'].mean() == 1.0


def test_empty_array_and_empty_history_buffer_round_trip(tmp_path):
    """Protocol-2 pickles of empty numpy arrays call ``bytes()``; only that
    call is allowed."""
    path = str(tmp_path / 'empty.pth')
    hub = MessageHub.get_instance('compat-empty')
    hub.update_scalar('train/empty', 1.0)
    ckpt = dict(
        state_dict={},
        meta=dict(empty=np.zeros((0, 3)), buffer=HistoryBuffer()),
        message_hub=hub.state_dict(),
    )
    save_checkpoint(ckpt, path)
    loaded = torch.load(path, map_location='cpu')  # weights_only default
    assert loaded['meta']['empty'].shape == (0, 3)
    assert len(loaded['meta']['buffer'].data[0]) == 0
    np.testing.assert_array_equal(
        loaded['message_hub']['log_scalars']['train/empty'].data[0], [1.0]
    )


def test_bytes_with_an_argument_is_refused(tmp_path):

    class Allocates:
        def __reduce__(self):
            return bytes, (10**10,)  # would allocate 10 GB

    path = str(tmp_path / 'bytes.pth')
    torch.save({'x': Allocates()}, path)
    with pytest.raises(pickle.UnpicklingError, match=r'bytes\(10000000000'):
        torch.load(path, map_location='cpu')
