"""``tools/gpu_check.sh``: the GPU proof, rehearsed on CPU.

The rehearsal runs every step of the real check at tiny sizes with the CUDA
steps skipped, so the one call made on a lent GPU machine has run before.
The budget test shows the hard time limit: steps beyond it are skipped or
stopped and the report is still written.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'tools' / 'gpu_check.sh'
STEPS = [
    'install',
    'env',
    'cuda_tests',
    'data',
    'train',
    'dcn',
    'predict',
    'mmcv_cuda_ops',
]
AMP_ON_CPU = (
    'CPU mixed precision needs bfloat16 instructions, which this CPU lacks'
)


def _check(out, *args, timeout=900):
    env = dict(os.environ, STUNET_PYTHON=sys.executable)
    return subprocess.run(
        ['bash', str(SCRIPT), str(out), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope='module')
def rehearsal(tmp_path_factory):
    out = tmp_path_factory.mktemp('gpu_check')
    proc = _check(out, '--rehearse')
    return out, proc


def test_rehearsal_runs_every_step(rehearsal):
    out, proc = rehearsal
    assert proc.returncode == 0, proc.stderr[-3000:]
    # at most 8 files come back from a lent machine: three are written
    assert sorted(p.name for p in out.iterdir()) == [
        'gpu_check.log',
        'gpu_report.json',
        'gpu_report.md',
    ]
    report = json.loads((out / 'gpu_report.json').read_text())
    status = {s['name']: s['status'] for s in report['steps']}
    assert list(status) == STEPS
    for name, st in status.items():
        if name == 'mmcv_cuda_ops':
            assert st.startswith('skipped: not built'), st
        else:
            assert st == 'ok', (name, st)
    runs = report['training']
    assert sorted(runs) == [
        'train_deeplabv3plus_amp',
        'train_stunet_amp',
        'train_stunet_fp32',
    ]
    for name in ('train_stunet_amp', 'train_deeplabv3plus_amp'):
        # bfloat16 on CPU only with its instructions
        assert runs[name].get('skipped', AMP_ON_CPU) == AMP_ON_CPU
        assert 'iterations' in runs[name] or 'skipped' in runs[name]
    assert report['seconds_total'] <= report['budget_s']
    assert report['environment']['cuda_available'] is False
    log = (out / 'gpu_check.log').read_text()
    # the suite's CUDA cases exist and skip cleanly on CPU
    m = re.search(r'(\d+) skipped', log)
    assert m and int(m.group(1)) >= 20, log[-2000:]
    assert 'needs a CUDA device' in log


def test_rehearsal_measures_what_the_gpu_run_reports(rehearsal):
    out, _ = rehearsal
    report = json.loads((out / 'gpu_report.json').read_text())
    res = {s['name']: s['results'] for s in report['steps']}
    fp32 = report['training']['train_stunet_fp32']
    assert fp32['iterations'] == 3 and fp32['finite']
    assert fp32['images_per_s_step'] > 0
    assert fp32['config'].endswith('st-unet_1xb8-100e_vaihingen-256x256.py')
    dcn = res['dcn']
    assert dcn['auto_picks'] in ('torch', 'torchvision', 'mmcv')
    for shape, row in dcn['results'].items():
        assert row['torch']['time'] > 0 and row['conv']['time'] > 0, shape
    pred = res['predict']
    assert pred['mpx_per_s'] > 0 and pred['scene_px'] == [256, 256]
    assert pred['class_map_shape'] == [256, 256]
    md = (out / 'gpu_report.md').read_text()
    for title in ('## Training', '## DeformConvV2', '## Scene prediction'):
        assert title in md


def test_step_budgets_fit_the_lease():
    """The budgets written in the script's header are the ones it uses, and
    they add up to at most 9 minutes."""
    text = SCRIPT.read_text()
    header = re.search(
        r'Steps, with their budgets in seconds \(sum (\d+) '
        r'<= (\d+)\)',
        text,
    )
    assert header and int(header.group(2)) == 540
    used = [int(b) for b in re.findall(r'need_stack \w+ (\d+) ', text)]
    used.append(int(re.search(r'INSTALL_BUDGET=(\d+)', text).group(1)))
    used.append(int(re.search(r'REPORT_RESERVE=(\d+)', text).group(1)))
    assert sum(used) == int(header.group(1)) <= 540, used


def test_a_short_budget_still_writes_the_report(tmp_path):
    """With 60 s for the whole run, the steps that no longer fit are
    skipped or stopped, the run ends within the budget (plus the kill
    grace) and the report names what happened."""
    proc = _check(tmp_path, '--rehearse', '--budget', '60', timeout=300)
    report = json.loads((tmp_path / 'gpu_report.json').read_text())
    status = [s['status'] for s in report['steps']]
    assert any('budget' in s or 'stopped at its limit' in s for s in status), (
        status
    )
    assert report['seconds_total'] <= 60 + 10
    assert (tmp_path / 'gpu_report.md').is_file()
    # a stopped step fails the run; budget-skipped ones alone do not
    assert (proc.returncode != 0) == any('stopped' in s for s in status)
