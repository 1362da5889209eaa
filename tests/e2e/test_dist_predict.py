"""tools/dist_predict.sh with two gloo processes (issue 21): the class maps
of several scenes and of a large scene cut into row bands equal those of
the single-process tools/predict.py; a run killed mid-way resumes with its
finished scenes skipped; a corrupt scene stops the run in one line, or
with --keep-going is reported while the others finish."""

import json
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

rasterio = pytest.importorskip('rasterio')

from helpers import build_small, run_tool, small_cfg

from mmseg_stunet.apis.batch_predict import KILL_ENV  # noqa: E402
from mmseg_stunet.testing import smooth_scene, write_geotiff
from mmseg_stunet.utils.paths import project_root  # noqa: E402

pytestmark = pytest.mark.e2e
ROOT = project_root()
SIZES = [(200, 230), (150, 120), (90, 300), (700, 650)]  # the last in bands
OPTIONS = ['--window', '64', '--overlap', '16', '--batch-size', '4']


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def dist_predict(args, env=None, timeout=300):
    """``bash tools/dist_predict.sh CFG CKPT 2 ...`` on a free port."""
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        PORT=str(free_port()),
        PYTHONUNBUFFERED='1',
        **(env or {}),
    )
    return subprocess.run(
        ['bash', 'tools/dist_predict.sh', *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('dist_predict')
    cfg, ckpt = str(tmp / 'cfg.py'), str(tmp / 'ckpt.pth')
    small_cfg().dump(cfg)
    torch.save(dict(state_dict=build_small().state_dict()), ckpt)
    scenes = tmp / 'scenes'
    scenes.mkdir()
    for i, (h, w) in enumerate(SIZES):
        write_geotiff(scenes / f's{i}.tif', smooth_scene(h, w, 3, seed=i))
    single = str(tmp / 'single')
    run_tool(
        [
            'tools/predict.py',
            cfg,
            ckpt,
            str(scenes),
            '--out-dir',
            single,
            '--no-progress',
            *OPTIONS,
        ]
    )
    return dict(tmp=tmp, cfg=cfg, ckpt=ckpt, scenes=str(scenes), single=single)


def assert_same_outputs(single, out, names):
    for name in names:
        with rasterio.open(
            osp.join(single, name + '.tif')
        ) as a, rasterio.open(osp.join(out, name + '.tif')) as b:
            np.testing.assert_array_equal(a.read(), b.read(), err_msg=name)
            assert a.profile == b.profile and a.colormap(1) == b.colormap(1)
        for suffix in ('_preview.png',):
            with open(osp.join(single, name + suffix), 'rb') as f, open(
                osp.join(out, name + suffix), 'rb'
            ) as g:
                assert f.read() == g.read(), name + suffix


def manifest(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_two_processes_with_bands_equal_one_process(setup):
    out, mf = str(setup['tmp'] / 'two'), str(setup['tmp'] / 'two.jsonl')
    proc = dist_predict(
        [
            setup['cfg'],
            setup['ckpt'],
            '2',
            f'{setup["scenes"]}/*.tif',
            '--out-dir',
            out,
            '--manifest',
            mf,
            '--band-mpx',
            '0.15',
            *OPTIONS,
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_same_outputs(setup['single'], out, [f's{i}' for i in range(4)])
    records = manifest(mf)
    assert sorted(osp.basename(r['scene']) for r in records) == [
        f's{i}.tif' for i in range(4)
    ]
    assert {r['status'] for r in records} == {'done'}
    assert {r['rank'] for r in records} == {0, 1}  # both ranks worked
    big = [r for r in records if r['scene'].endswith('s3.tif')][0]
    assert big['pixels'] == 700 * 650 and big['error'] is None
    assert sorted(os.listdir(out)) == sorted(
        f's{i}{s}' for i in range(4) for s in ('.tif', '_preview.png')
    )
    assert 'predict: 4/4 scenes' in proc.stderr  # the progress line
    assert proc.stdout.count('.tif') == 4


def test_killed_run_resumes_skipping_finished_scenes(setup):
    out, mf = str(setup['tmp'] / 'killed'), str(setup['tmp'] / 'k.jsonl')
    args = [
        setup['cfg'],
        setup['ckpt'],
        '2',
        setup['scenes'],
        '--out-dir',
        out,
        '--manifest',
        mf,
        '--band-mpx',
        '100',
        *OPTIONS,
    ]
    # longest first: s3 to rank 0; s0, s2, s1 to rank 1, which dies
    # (SIGKILL) after s0; torchrun then stops rank 0 (SIGTERM) in s3
    proc = dist_predict(args, env={KILL_ENV: '1:1'})
    assert proc.returncode != 0
    first = {osp.basename(r['scene']): r for r in manifest(mf)}
    assert 's0.tif' in first and 's2.tif' not in first
    assert all(r['status'] == 'done' for r in first.values())
    assert all(osp.isfile(p) for r in first.values() for p in r['outputs'])
    # what was cut short left no output, not even a partial one
    assert not [n for n in os.listdir(out) if n.startswith('.')]
    assert not osp.exists(osp.join(out, 's2.tif'))
    mtimes = {n: os.stat(osp.join(out, n)).st_mtime_ns for n in first}
    proc = dist_predict(args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    second = {osp.basename(r['scene']): r for r in manifest(mf)[len(first) :]}
    assert sorted(second) == [f's{i}.tif' for i in range(4)]
    for name in first:
        assert second[name]['status'] == 'skipped'
        assert os.stat(osp.join(out, name)).st_mtime_ns == mtimes[name]
    assert {second[n]['status'] for n in second if n not in first} == {'done'}
    assert_same_outputs(setup['single'], out, [f's{i}' for i in range(4)])
    assert not [n for n in os.listdir(out) if n.startswith('.')]


@pytest.fixture(scope='module')
def bad_scenes(setup):
    folder = setup['tmp'] / 'bad'
    folder.mkdir()
    for name in ('s0.tif', 's1.tif'):
        (folder / name).write_bytes(
            open(osp.join(setup['scenes'], name), 'rb').read()
        )
    # a header that opens, pixel data cut off: fails in a rank, mid-run
    data = open(osp.join(setup['scenes'], 's2.tif'), 'rb').read()
    (folder / 'cut.tif').write_bytes(data[:3000])
    return str(folder)


def test_corrupt_scene_stops_every_rank_in_one_line(setup, bad_scenes):
    out = str(setup['tmp'] / 'bad_out')
    proc = dist_predict(
        [
            setup['cfg'],
            setup['ckpt'],
            '2',
            bad_scenes,
            '--out-dir',
            out,
            *OPTIONS,
        ]
    )
    assert proc.returncode != 0
    errors = [
        line for line in proc.stderr.splitlines() if line.startswith('error:')
    ]
    assert errors and all(
        'cut.tif' in line or 'SIGTERM' in line for line in errors
    ), proc.stderr[-3000:]
    assert any('cut.tif' in line for line in errors)
    assert 'Traceback' not in ''.join(
        line for line in proc.stderr.splitlines() if line.startswith('[rank')
    )  # torchrun's own report aside
    assert not osp.exists(osp.join(out, 'cut.tif'))


def test_keep_going_reports_the_corrupt_scene_and_finishes(setup, bad_scenes):
    out, mf = str(setup['tmp'] / 'kg_out'), str(setup['tmp'] / 'kg.jsonl')
    proc = dist_predict(
        [
            setup['cfg'],
            setup['ckpt'],
            '2',
            bad_scenes,
            '--out-dir',
            out,
            '--manifest',
            mf,
            '--keep-going',
            *OPTIONS,
        ]
    )
    assert proc.returncode == 1
    summary = [
        line for line in proc.stderr.splitlines() if line.startswith('error:')
    ]
    assert summary == [
        f'error: 1 of 3 scene(s) failed, 2 done, 0 skipped '
        f'as complete (manifest {mf})'
    ]
    assert any(
        line.startswith('failed: ') and 'cut.tif' in line
        for line in proc.stderr.splitlines()
    )
    records = {osp.basename(r['scene']): r for r in manifest(mf)}
    assert records['cut.tif']['status'] == 'failed'
    assert 'cut.tif' in records['cut.tif']['error']
    assert_same_outputs(setup['single'], out, ['s0', 's1'])
    assert not osp.exists(osp.join(out, 'cut.tif'))


@pytest.mark.parametrize(
    'args,message',
    [
        ([], 'missing arguments'),
        (['c.py', 'k.pth', 'x', 'in'], 'NPROC must be a number'),
        (['c.py', 'k.pth', '2'], 'missing arguments'),
    ],
)
def test_launcher_usage_errors(args, message):
    proc = dist_predict(args, timeout=30)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines[0].startswith('usage: bash tools/dist_predict.sh')
    assert len(lines) == 2 and message in lines[1]
