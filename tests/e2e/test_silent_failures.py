"""Runs that used to give a wrong answer with exit code 0, through the
tools: each is refused in one ``error:`` line naming the culprit (exit 1,
no traceback), leaves the work dir's checkpoints as they were and writes no
NaN checkpoint; or, where the user asked for it, warns and does the right
thing. Under ``mim`` (MMSegmentation's own tools, which print tracebacks)
the same message stops the run with a non-zero exit code."""

import glob
import hashlib
import os
import os.path as osp
import shutil

import pytest
import torch
from helpers import (
    run_tool,
    tiny_config,
    tiny_data_options,
    write_shapes_dataset,
)

import mmseg_stunet  # noqa: F401  (allow-list for reading checkpoints)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """The tiny config trained for 2 iterations (iter_1.pth, iter_2.pth)."""
    tmp = tmp_path_factory.mktemp('silent')
    data = write_shapes_dataset(str(tmp / 'data'))
    opts = ['--cfg-options'] + [
        f'{k}={v}' for k, v in tiny_data_options(data).items()
    ]
    work = str(tmp / 'work')
    run_tool(['tools/train.py', tiny_config(), '--work-dir', work, *opts])
    return dict(work=work, opts=opts)


def copy_run(trained, dst):
    """A copy of the trained work dir whose last_checkpoint names its own
    iter_2.pth."""
    shutil.copytree(trained['work'], dst)
    with open(osp.join(dst, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(dst, 'iter_2.pth'))
    return dst


def diverged_checkpoint(trained, dst):
    ckpt = torch.load(
        osp.join(trained['work'], 'iter_2.pth'), map_location='cpu'
    )
    ckpt['state_dict']['decode_head.conv_seg.bias'][1] = float('nan')
    torch.save(ckpt, dst)
    return dst


def checkpoints(root):
    """Checksum of every .pth under root."""
    out = {}
    for path in glob.glob(osp.join(root, '**', '*.pth'), recursive=True):
        with open(path, 'rb') as f:
            out[path] = hashlib.sha256(f.read()).hexdigest()
    return out


def non_finite(paths):
    bad = []
    for path in paths:
        sd = torch.load(path, map_location='cpu')['state_dict']
        if any(
            v.is_floating_point() and not torch.isfinite(v).all()
            for v in sd.values()
        ):
            bad.append(path)
    return bad


# id: (tool arguments, the expected error line as a regular expression);
# {w} is a copy of the trained work dir, {t} an empty folder, {n} a
# checkpoint with a NaN weight
REFUSED = {
    'diverges': (
        [
            'tools/train.py',
            '{cfg}',
            '--work-dir',
            '{w}',
            '--resume',
            '{w}/iter_2.pth',
            '{opts}',
            'train_cfg.max_iters=4',
            'model.decode_head.loss_decode.class_weight=[nan,1,1]',
        ],
        r'error: training diverged at iteration 3: loss=nan, decode\.'
        r'loss_ce=nan; the last checkpoint, {w}/iter_2\.pth, is kept\. ',
    ),
    'test-nan-checkpoint': (
        ['tools/test.py', '{cfg}', '{n}', '--work-dir', '{t}', '{opts}'],
        r'error: {n}: weight decode_head\.conv_seg\.bias \(1 of 3 values '
        r'NaN or inf\): the checkpoint comes from a run that diverged',
    ),
    'max-iters-negative': (
        [
            'tools/train.py',
            '{cfg}',
            '--work-dir',
            '{t}',
            '{opts}',
            'train_cfg.max_iters=-5',
        ],
        r'error: train_cfg\.max_iters=-5: a training run needs a positive '
        r'length',
    ),
    'resume-at-end': (
        ['tools/train.py', '{cfg}', '--work-dir', '{w}', '--resume', '{opts}'],
        r'error: {w}/iter_2\.pth is at iteration 2, and train_cfg\.'
        r'max_iters=2: nothing is left to train; to train further, raise '
        r'train_cfg\.max_iters',
    ),
    'class-count': (
        [
            'tools/train.py',
            '{cfg}',
            '--work-dir',
            '{t}',
            '{opts}',
            'model.decode_head.num_classes=6',
        ],
        r'error: model\.decode_head\.num_classes=6 but train_dataloader\.'
        r'dataset has 3 classes \(metainfo classes: background, square, '
        r'disc\)',
    ),
    # MMSegmentation's tools print the message inside a traceback
    'mim-test-nan-checkpoint': (
        [
            '-m',
            'mim',
            'test',
            'mmseg',
            '{cfg}',
            '--checkpoint',
            '{n}',
            '--work-dir',
            '{t}',
            '{opts}',
        ],
        r'.*{n}: weight decode_head\.conv_seg\.bias \(1 of 3 values NaN or '
        r'inf\)',
    ),
    'mim-train-resume-nothing': (
        [
            '-m',
            'mim',
            'train',
            'mmseg',
            '{cfg}',
            '--work-dir',
            '{t}',
            '--resume',
            '{opts}',
        ],
        r'.*resume: no checkpoint to resume from in {t} \(no '
        r'last_checkpoint\)',
    ),
}


@pytest.mark.parametrize('case', sorted(REFUSED))
def test_refused_in_one_line(trained, tmp_path, case):
    import re

    args, expected = REFUSED[case]
    paths = dict(
        w=copy_run(trained, str(tmp_path / 'w')),
        t=str(tmp_path / 't'),
        n=diverged_checkpoint(trained, str(tmp_path / 'nan.pth')),
    )
    before = checkpoints(str(tmp_path))
    argv = []
    for a in args:
        if a == '{opts}':
            argv += trained['opts']
        else:
            argv.append(a.format(cfg=tiny_config(), **paths))
    proc = run_tool(argv, check=False)
    out = proc.stdout
    assert proc.returncode != 0, out[-3000:]
    pattern = expected.format(**{k: re.escape(v) for k, v in paths.items()})
    if case.startswith('mim'):
        assert re.search(pattern, out), out[-3000:]
    else:
        lines = out.strip().splitlines()
        assert proc.returncode == 1
        assert [ln for ln in lines if ln.startswith('error:')] == [lines[-1]]
        assert re.match(pattern, lines[-1]), lines[-1]
        assert 'Traceback' not in out, out[-3000:]
    # no checkpoint written or changed, none with NaN but the test's own
    assert checkpoints(str(tmp_path)) == before
    assert non_finite(before) == [paths['n']]


def test_config_resume_with_nothing_to_resume_says_so(trained, tmp_path):
    """``resume = True`` in a config means "resume if possible": with an
    empty work dir, one warning line and a run from scratch."""
    proc = run_tool(
        [
            'tools/train.py',
            tiny_config(),
            '--work-dir',
            str(tmp_path),
            *trained['opts'],
            'resume=True',
        ]
    )
    assert (
        f'warning: resume = True in the config, but no checkpoint in '
        f'{tmp_path}: starting from scratch'
    ) in proc.stdout
    assert 'Traceback' not in proc.stdout
    assert osp.isfile(str(tmp_path / 'iter_2.pth'))
    assert os.listdir(str(tmp_path))
