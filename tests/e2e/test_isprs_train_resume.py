"""ISPRS end to end: convert raw archives, train, kill, resume, test.

Runs the real command-line tools on a tiny ST-UNet and tiny fake archives:
``tools/train.py`` killed with SIGKILL mid-run and resumed, ``tools/test.py``
and ``mim test mmseg`` on the checkpoint, ``tools/dist_train.sh`` with two
CPU processes.
"""

import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

import mmseg_stunet  # noqa: F401
from mmseg_stunet.converters.isprs import convert_isprs
from mmseg_stunet.testing import write_vaihingen_archives
from mmseg_stunet.utils.paths import config_path, project_root

pytestmark = pytest.mark.e2e
ROOT = project_root()
TILE = 64

# Hooks loaded into the training processes through custom_imports: one
# records the samples and learning rate of every iteration, one kills the
# process (SIGKILL, no clean-up) right after iteration $E2E_KILL_AT.
PROBE = """
import json, os, os.path as osp, signal
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class RecordHook(Hook):
    priority = 'LOWEST'

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        names = [osp.basename(s.img_path) for s in data_batch['data_samples']]
        lr = runner.optim_wrapper.get_lr()['lr'][0]
        with open(osp.join(runner.work_dir, 'record.jsonl'), 'a') as f:
            f.write(json.dumps(dict(iter=runner.iter + 1, lr=lr,
                                    imgs=names)) + '\\n')


@HOOKS.register_module()
class KillHook(Hook):
    priority = 'LOWEST'  # after the checkpoint hook saved

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == int(os.environ.get('E2E_KILL_AT', 0)):
            os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('e2e')
    raw, data = str(tmp / 'raw'), str(tmp / 'data')
    # areas 1, 3: paper train; 11: paper test. 96 px -> 4 tiles of 64 each.
    write_vaihingen_archives(raw, areas=(1, 3, 11), size=(96, 96), seed=11)
    s = convert_isprs(
        'vaihingen', raw, data, size=TILE, progress=False, allow_missing=True
    )
    assert s.tiles == {'train': 8, 'val': 4}
    (tmp / 'e2e_probe.py').write_text(PROBE)
    base = tmp / 'tiny.py'
    base.write_text(f"""
_base_ = {config_path('st_unet', 'st-unet-tiny_1xb8-600iter_synthetic-vaihingen-128x128.py')!r}
data_root = {data!r}
model = dict(
    data_preprocessor=dict(size=({TILE}, {TILE})),
    backbone=dict(embed_dims=8, num_heads=(1, 1, 2, 2), window_size=4),
    decode_head=dict(decoder_channels=(16, 16, 8, 8), channels=4))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0,
                        end=4, by_epoch=False)]
train_cfg = dict(max_iters=4, val_interval=4)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2, max_keep_ckpts=1))
# no fixed seed (the demo config fixes one): every process draws its own,
# which is what ResumeDataOrderHook has to repair on --resume
randomness = dict(seed=None)
""")
    probe_cfg = tmp / 'tiny_probe.py'
    probe_cfg.write_text(f"""
_base_ = {str(base)!r}
custom_imports = dict(imports=['mmseg_stunet', 'e2e_probe'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='CheckpointCheckHook'),
                dict(type='ResumeDataOrderHook'), dict(type='RecordHook'),
                dict(type='KillHook')]
""")
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [str(tmp), ROOT, os.environ.get('PYTHONPATH', '')]
        ),
        # torchrun and mim of this interpreter's environment
        PATH=os.pathsep.join(
            [osp.dirname(sys.executable), os.environ.get('PATH', '')]
        ),
        OMP_NUM_THREADS='1',
    )
    return dict(tmp=tmp, base=str(base), probe=str(probe_cfg), env=env)


def run(cmd, env, ok=True):
    p = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if ok and p.returncode != 0:
        raise AssertionError(
            f'{cmd} failed ({p.returncode}):\n'
            f'{p.stdout[-3000:]}\n{p.stderr[-3000:]}'
        )
    return p


def records(work):
    with open(osp.join(work, 'record.jsonl')) as f:
        return [json.loads(line) for line in f]


def test_kill_resume_test_and_mim_test(setup):
    env, work = setup['env'], str(setup['tmp'] / 'work')
    train = [
        sys.executable,
        'tools/train.py',
        setup['probe'],
        '--work-dir',
        work,
    ]
    # Killed (SIGKILL) right after iteration 3; the last checkpoint is 2.
    p = run(train, dict(env, E2E_KILL_AT='3'), ok=False)
    assert p.returncode == -9, p.stderr[-2000:]
    killed = records(work)
    assert [r['iter'] for r in killed] == [1, 2, 3]
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert osp.basename(f.read().strip()) == 'iter_2.pth'

    # Resumed: iteration 3 again, then 4, with the samples and learning
    # rates the killed run had (seed restored from the checkpoint).
    p = run(train + ['--resume'], env)
    assert (
        'rebuilt the training data loader with the resumed seed'
        in p.stdout + p.stderr
    )  # no fixed seed here: the new process drew its own
    resumed = records(work)[3:]
    assert [r['iter'] for r in resumed] == [3, 4]
    assert resumed[0]['imgs'] == killed[2]['imgs']
    assert resumed[0]['lr'] == pytest.approx(killed[2]['lr'])
    # poly 0.9 from 0.05 to 0 at the last of 4 iterations (MMEngine's PolyLR
    # with end=4), recorded after the scheduler stepped: the next rate
    for r in killed + resumed:
        expected = 0.05 * max(0, 1 - r['iter'] / 3) ** 0.9
        assert r['lr'] == pytest.approx(expected, abs=1e-12)
    ckpt = torch.load(osp.join(work, 'iter_4.pth'), map_location='cpu')
    assert ckpt['meta']['iter'] == 4
    assert not osp.exists(osp.join(work, 'iter_2.pth'))  # max_keep_ckpts=1

    # tools/test.py and `mim test mmseg` on the checkpoint: ISPRS metrics in
    # the metrics json.
    for name, cmd in [
        (
            'tools',
            [
                sys.executable,
                'tools/test.py',
                setup['base'],
                osp.join(work, 'iter_4.pth'),
                '--work-dir',
            ],
        ),
        (
            'mim',
            [
                'mim',
                'test',
                'mmseg',
                setup['base'],
                '--checkpoint',
                osp.join(work, 'iter_4.pth'),
                '--work-dir',
            ],
        ),
    ]:
        out = str(setup['tmp'] / f'test_{name}')
        run(cmd + [out], env)
        (log,) = glob.glob(osp.join(out, '*', '*.json'))
        with open(log) as f:
            metrics = json.load(f)
        for key in ('OA', 'mIoU', 'mF1', 'mIoU_all', 'IoU.car', 'F1.car'):
            assert key in metrics, (name, sorted(metrics))
        assert 0 <= metrics['OA'] <= 100


def test_dist_train_two_cpu_processes(setup):
    work = str(setup['tmp'] / 'dist')
    env = dict(setup['env'], PORT=str(29500 + os.getpid() % 1000))
    run(
        [
            'bash',
            'tools/dist_train.sh',
            setup['base'],
            '2',
            '--work-dir',
            work,
            '--cfg-options',
            'train_cfg.max_iters=2',
            'train_cfg.val_interval=2',
            'default_hooks.checkpoint.interval=2',
        ],
        env,
    )
    ckpt = torch.load(osp.join(work, 'iter_2.pth'), map_location='cpu')
    assert ckpt['meta']['iter'] == 2
    logs = open(glob.glob(osp.join(work, '*', '*.log'))[0]).read()
    assert 'Distributed training: True' in logs and 'GPU number: 2' in logs
