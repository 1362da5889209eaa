"""Train -> checkpoint -> resume -> evaluate, for real, through the CLI tools.

Runs MMSegmentation's runner on torch >= 2.6, whose ``torch.load`` defaults
to ``weights_only=True``: resume, ``tools/test.py`` and ``mim test`` only
work because importing ``mmseg_stunet`` allow-lists mmengine's types.
"""

import glob
import json
import os.path as osp

import pytest
import torch
from helpers import run_tool, write_shapes_dataset

import mmseg_stunet  # noqa: F401  (allow-list for reading checkpoints)
from mmseg_stunet.utils.paths import project_root

pytestmark = pytest.mark.e2e
REPO = project_root()

CONFIG = osp.join(REPO, 'tests', 'data', 'tiny_fcn_config.py')


def _metrics_json(work_dir):
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    assert files, f'no metrics json under {work_dir}'
    with open(files[-1]) as f:
        return json.load(f)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train 2 iterations, then resume to iteration 3."""
    tmp = tmp_path_factory.mktemp('e2e')
    data = write_shapes_dataset(str(tmp / 'data'))
    work = str(tmp / 'work')
    opts = [
        '--cfg-options',
        f'data_root={data}',
        f'train_dataloader.dataset.data_root={data}',
        f'val_dataloader.dataset.data_root={data}',
        f'test_dataloader.dataset.data_root={data}',
    ]
    run_tool(['tools/train.py', CONFIG, '--work-dir', work, *opts])
    first = torch.load(osp.join(work, 'iter_2.pth'), map_location='cpu')
    # a config's load_from (initial weights) does not redirect --resume
    out = run_tool(
        [
            'tools/train.py',
            CONFIG,
            '--work-dir',
            work,
            '--resume',
            *opts,
            'train_cfg.max_iters=3',
            f'load_from={tmp}/initial_weights.pth',
        ]
    ).stdout
    return dict(work=work, data=data, opts=opts, first=first, log=out)


def test_resume_continues_iteration_counter(trained):
    work = trained['work']
    assert trained['first']['meta']['iter'] == 2
    assert (
        'resumed checkpoint' in trained['log'].lower()
        or 'resumed from' in trained['log'].lower()
        or 'load checkpoint from' in trained['log'].lower()
    )
    assert 'Iter(train) [3/3]' in trained['log']
    assert 'Iter(train) [1/3]' not in trained['log']
    resumed = torch.load(osp.join(work, 'iter_3.pth'), map_location='cpu')
    assert resumed['meta']['iter'] == 3
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('iter_3.pth')
    # The optimizer state (momentum buffers) came through the resume.
    assert resumed['optimizer']['state']
    # The LR schedule continued instead of restarting: PolyLR (power 0.9,
    # base 0.01, end=5, which is 4 decay steps in mmengine) gives
    # 0.01 * (1 - k / 4) ** 0.9 after k steps.
    for ckpt, k in ((trained['first'], 2), (resumed, 3)):
        lr = ckpt['optimizer']['param_groups'][0]['lr']
        assert lr == pytest.approx(0.01 * (1 - k / 4) ** 0.9, rel=1e-6)


def test_tools_test_evaluates_checkpoint(trained, tmp_path):
    ckpt = osp.join(trained['work'], 'iter_3.pth')
    run_tool(
        [
            'tools/test.py',
            CONFIG,
            ckpt,
            '--work-dir',
            str(tmp_path),
            *trained['opts'],
        ]
    )
    metrics = _metrics_json(str(tmp_path))
    assert 0.0 <= metrics['mIoU'] <= 100.0


def test_mim_test_evaluates_checkpoint(trained, tmp_path):
    ckpt = osp.join(trained['work'], 'iter_3.pth')
    out = run_tool(
        [
            '-m',
            'mim',
            'test',
            'mmseg',
            CONFIG,
            '--checkpoint',
            ckpt,
            '--work-dir',
            str(tmp_path),
            *trained['opts'],
        ]
    ).stdout
    metrics = _metrics_json(str(tmp_path))
    assert 'mIoU' in metrics, out[-2000:]


def _tool(args, check=True):
    return run_tool(args, check=check)


def test_resume_with_nothing_to_resume_is_an_error(trained, tmp_path):
    proc = _tool(
        [
            'tools/train.py',
            CONFIG,
            '--work-dir',
            str(tmp_path),
            '--resume',
            *trained['opts'],
        ],
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout.strip().splitlines()[-1] == (
        f'error: --resume: no checkpoint to resume from in {tmp_path} (no '
        'last_checkpoint); train without --resume, or pass --resume CKPT'
    )
    assert not glob.glob(str(tmp_path / '*.pth'))


def test_test_refuses_foreign_and_broken_checkpoints(trained, tmp_path):
    """A checkpoint of another model is refused in one line by tools/test.py
    and by `mim test` (runner_type of the project's runtime) unless
    --allow-partial; a truncated one is named without advice to disable
    weights_only."""
    ckpt = torch.load(
        osp.join(trained['work'], 'iter_3.pth'), map_location='cpu'
    )
    sd = ckpt['state_dict']
    sd['decode_head.conv_seg.weight'] = sd['decode_head.conv_seg.weight'][:2]
    del sd['decode_head.conv_seg.bias']
    foreign = str(tmp_path / 'foreign.pth')
    torch.save(ckpt, foreign)
    proc = _tool(
        [
            'tools/test.py',
            CONFIG,
            foreign,
            '--work-dir',
            str(tmp_path / 't'),
            *trained['opts'],
        ],
        check=False,
    )
    last = proc.stdout.strip().splitlines()[-1]
    assert proc.returncode == 1 and last.startswith(
        f'error: {foreign} does not fit the model: 1 of'
    )
    assert 'decode_head.conv_seg.bias' in last and '--allow-partial' in last
    proc = _tool(
        [
            '-m',
            'mim',
            'test',
            'mmseg',
            CONFIG,
            '--checkpoint',
            foreign,
            '--work-dir',
            str(tmp_path / 'm'),
            *trained['opts'],
        ],
        check=False,
    )
    assert proc.returncode != 0 and 'does not fit the model' in proc.stdout
    _tool(
        [
            'tools/test.py',
            CONFIG,
            foreign,
            '--allow-partial',
            '--work-dir',
            str(tmp_path / 'p'),
            *trained['opts'],
        ]
    )
    assert 'mIoU' in _metrics_json(str(tmp_path / 'p'))
    cut = str(tmp_path / 'cut.pth')
    with open(osp.join(trained['work'], 'iter_3.pth'), 'rb') as f:
        data = f.read()
    with open(cut, 'wb') as f:
        f.write(data[: len(data) // 3])
    proc = _tool(['tools/test.py', CONFIG, cut, *trained['opts']], check=False)
    last = proc.stdout.strip().splitlines()[-1]
    assert proc.returncode == 1 and last.startswith(
        f'error: {cut}: cannot be read: it is truncated'
    )
    assert 'weights_only' not in proc.stdout


def test_show_dir_draws_every_test_image(trained, tmp_path):
    """Two test images, both drawn (MMSegmentation's hook draws every 50th,
    and building the training loader for the step crashed without it)."""
    show = tmp_path / 'show'
    _tool(
        [
            'tools/test.py',
            CONFIG,
            osp.join(trained['work'], 'iter_3.pth'),
            '--work-dir',
            str(tmp_path / 'w'),
            '--show-dir',
            str(show),
            *trained['opts'],
            'train_dataloader.dataset.data_root=/no/data',
        ]
    )
    drawn = glob.glob(str(show / '**' / '*.png'), recursive=True)
    assert len(drawn) == 2, drawn


def test_amp_trains_on_cpu(trained, tmp_path):
    from mmseg_stunet.engine.optim_wrapper import cpu_bf16_support

    proc = _tool(
        [
            'tools/train.py',
            CONFIG,
            '--amp',
            '--work-dir',
            str(tmp_path),
            *trained['opts'],
        ],
        check=False,
    )
    if cpu_bf16_support() != 'native':
        assert proc.returncode == 1
        assert 'run without --amp' in proc.stdout.strip().splitlines()[-1]
        return
    assert proc.returncode == 0, proc.stdout[-3000:]
    ckpt = torch.load(str(tmp_path / 'iter_2.pth'), map_location='cpu')
    assert 'loss_scaler' not in ckpt['optimizer']  # bfloat16: no scaling
    assert ckpt['optimizer']['state']
