"""Checkpoint reading names the file and never advises weights_only=False;
a checkpoint that does not fit its model is refused with counts and keys,
one with NaN or inf weights naming the first."""

import re

import pytest
import torch
from mmengine.runner import save_checkpoint

from mmseg_stunet.engine.checkpoint import (
    CheckpointError,
    check_checkpoint_fits,
    checkpoint_fit,
    load_model_checkpoint,
    read_checkpoint,
)


class Foreign:
    """A class no allow-list knows."""


def _model():
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.Conv2d(4, 2, 1),
    )


@pytest.fixture
def good(tmp_path):
    path = str(tmp_path / 'good.pth')
    save_checkpoint(
        dict(state_dict=_model().state_dict(), meta=dict(iter=3)), path
    )
    return path


def test_truncated_and_corrupted_files_are_named(good, tmp_path):
    data = open(good, 'rb').read()
    cut = str(tmp_path / 'cut.pth')
    with open(cut, 'wb') as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as e:
        read_checkpoint(cut)
    msg = str(e.value)
    assert msg.startswith(f'{cut}: cannot be read: it is truncated')
    assert '\n' not in msg and 'weights_only' not in msg
    noise = str(tmp_path / 'noise.pth')
    with open(noise, 'wb') as f:
        f.write(b'not a checkpoint at all' * 10)
    with pytest.raises(CheckpointError, match=r'noise\.pth: cannot be read'):
        read_checkpoint(noise)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        read_checkpoint(str(tmp_path / 'missing.pth'))


def test_unsafe_object_is_refused_without_advising_weights_only(tmp_path):
    path = str(tmp_path / 'unsafe.pth')
    torch.save(dict(state_dict={}, meta=dict(x=Foreign())), path)
    with pytest.raises(CheckpointError) as e:
        read_checkpoint(path)
    msg = str(e.value)
    assert path in msg and 'Foreign' in msg and 'refused' in msg
    assert 'weights_only' not in msg and '\n' not in msg
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_fit_lists_missing_mismatched_and_unexpected(good):
    ckpt = torch.load(good)
    model = _model()
    assert checkpoint_fit(model, ckpt) == ([], [], [])
    sd = ckpt['state_dict']
    del sd['1.running_var']
    sd['2.weight'] = torch.zeros(3, 4, 1, 1)
    sd['extra.weight'] = torch.zeros(1)
    missing, mismatched, unexpected = checkpoint_fit(model, ckpt)
    assert missing == ['1.running_var']
    assert mismatched == [
        '2.weight: checkpoint (3, 4, 1, 1) vs model (2, 4, 1, 1)'
    ]
    assert unexpected == ['extra.weight']
    with pytest.raises(CheckpointError) as e:
        check_checkpoint_fits(model, ckpt, 'x.pth')
    msg = str(e.value)
    assert msg.startswith(
        "x.pth does not fit the model: 1 of the model's "
        '8 weights missing (e.g. 1.running_var); 1 of '
        'another shape'
    )
    assert '--allow-partial' in msg and '\n' not in msg


def test_fit_looks_inside_test_time_augmentation_model(good):
    """tools/test.py --tta wraps the segmentor in SegTTAModel; the check
    compares with the segmentor inside, as mmengine's loading does."""
    from mmseg.models import SegTTAModel

    ckpt = torch.load(good)
    model = _model()
    model.test_step = model.forward  # what BaseTTAModel asks of a model
    tta = SegTTAModel(module=model)
    assert checkpoint_fit(tta, ckpt) == ([], [], [])
    assert check_checkpoint_fits(tta, ckpt, 'x.pth') == []


def test_load_model_checkpoint(good, tmp_path):
    model = _model()
    load_model_checkpoint(model, good)
    ref = torch.load(good)['state_dict']
    torch.testing.assert_close(model[0].weight, ref['0.weight'])
    # weights the model lacks alone are no error
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))
    load_model_checkpoint(other, good)
    torch.testing.assert_close(other[0].weight, ref['0.weight'])
    bigger = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.Conv2d(4, 4, 1),
        torch.nn.Conv2d(4, 2, 1),
    )
    with pytest.raises(CheckpointError, match='does not fit'):
        load_model_checkpoint(bigger, good)
    # allow_partial loads what fits
    load_model_checkpoint(bigger, good, allow_partial=True)
    torch.testing.assert_close(bigger[2].weight, ref['2.weight'])


def test_latest_checkpoint_of_a_copied_or_moved_work_dir(tmp_path):
    """last_checkpoint holds an absolute path; a copy resumes from its own
    file of that name, not the original's, and a moved one still finds it."""
    from mmseg_stunet.engine.checkpoint import latest_checkpoint

    orig, copy = tmp_path / 'orig', tmp_path / 'copy'
    for work in (orig, copy):
        work.mkdir()
        (work / 'iter_2.pth').write_bytes(b'w')
        (work / 'last_checkpoint').write_text(str(orig / 'iter_2.pth'))
    assert latest_checkpoint(str(orig)) == str(orig / 'iter_2.pth')
    assert latest_checkpoint(str(copy)) == str(copy / 'iter_2.pth')
    (orig / 'iter_2.pth').unlink()  # moved: the old path is gone
    assert latest_checkpoint(str(copy)) == str(copy / 'iter_2.pth')
    # not in the work dir (CheckpointHook's out_dir): the stored path
    (copy / 'last_checkpoint').write_text('/elsewhere/iter_9.pth')
    assert latest_checkpoint(str(copy)) == '/elsewhere/iter_9.pth'
    assert latest_checkpoint(str(tmp_path)) is None


@pytest.mark.parametrize(
    'name, value, allow_partial',
    [
        ('0.weight', float('nan'), False),
        ('2.bias', float('-inf'), False),
        ('1.running_var', float('inf'), False),  # buffers count too
        ('0.weight', float('nan'), True),  # never acceptable, even partial
    ],
)
def test_checkpoint_with_nan_or_inf_is_refused_naming_the_first(
    tmp_path, name, value, allow_partial
):
    """What the scene predictor, the ONNX export and init_segmentor load
    through; the first non-finite tensor is named with its count."""
    sd = _model().state_dict()
    sd[name].view(-1)[:2] = value
    path = str(tmp_path / 'diverged.pth')
    save_checkpoint(dict(state_dict=sd, meta=dict(iter=3)), path)
    with pytest.raises(
        CheckpointError,
        match=rf'^{path}: weight {re.escape(name)} \(2 of '
        rf'{sd[name].numel()} values NaN or inf\): the '
        'checkpoint comes from a run that diverged; use a '
        'checkpoint saved before the divergence$',
    ):
        load_model_checkpoint(_model(), path, allow_partial=allow_partial)
