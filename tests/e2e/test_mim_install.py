"""``mim search / train / test mmseg_stunet`` on a fresh install, both modes.

A copy of the checkout (its tracked and untracked, not ignored files: what
a fresh clone of this working tree holds) is installed with ``pip install
--no-deps --no-build-isolation [-e] COPY`` into a new venv. The venv sees
the heavy dependencies (torch, mmcv, mmseg, mim) of this interpreter
through a ``.pth`` file naming a folder of symlinks to this interpreter's
site-packages entries, leaving out this package's own install (its
dist-info and an editable install's finder and ``.pth``), so nothing of the
checkout can leak in. From a folder outside the checkout it then runs
``mim search mmseg_stunet``, ``mim train mmseg_stunet CONFIG`` (2
iterations on a tiny data set made here) and ``mim test mmseg_stunet CONFIG
--checkpoint CKPT``, and checks where the package, configs and tools came
from.

* ``pip install COPY`` (``wheel``): setup.py copies configs, tools and
  model-index.yml into the package's ``.mim``; everything comes from the
  venv's site-packages.
* ``pip install -e COPY`` (``editable``): setup.py symlinks them into
  ``COPY/mmseg_stunet/.mim``. A PEP 660 editable install (setuptools >= 64)
  puts the dist-info in site-packages but not the package, and mim 0.3.9
  (and mmengine's ``package::`` config prefix) look for
  ``<dist-info folder>/mmseg_stunet``: mim finds nothing there (pinned
  below, so a mim that learns editable installs shows up here). With
  ``PYTHONPATH=COPY`` the checkout's ``mmseg_stunet.egg-info`` (written by
  the editable install) comes first and names the checkout: mim then works
  on the checkout's files, the documented way for editable installs.
"""

import glob
import os
import os.path as osp
import shutil
import subprocess
import sys
import sysconfig

import pytest
from helpers import write_shapes_dataset

from mmseg_stunet.utils.paths import project_root

pytestmark = pytest.mark.e2e

ROOT = project_root()
#: the tiny model of tests/data/tiny_fcn_config.py on the installed
#: package's runtime config
TINY_BASE = '_base_ = [{runtime!r}]\n'


def _env(extra=None):
    """The environment without anything that points at the checkout, plus
    ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ('PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP')
    }
    env.update(
        PYTHONUNBUFFERED='1',
        OMP_NUM_THREADS='2',
        PYTHONNOUSERSITE='1',
        **(extra or {}),
    )
    return env


def _run(cmd, cwd, timeout=300, check=True, env=None):
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f'{" ".join(map(str, cmd))} exited '
            f'{proc.returncode}:\n{proc.stdout[-6000:]}'
        )
    return proc


def _copy_checkout(dest):
    """The files a clone of this working tree holds."""
    listing = subprocess.run(
        [
            'git',
            'ls-files',
            '-z',
            '--cached',
            '--others',
            '--exclude-standard',
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if listing.returncode != 0:
        pytest.skip(
            f'{ROOT} is not a git checkout: {listing.stderr.decode().strip()}'
        )
    files = listing.stdout.decode().split('\0')
    for rel in filter(None, files):
        src = osp.join(ROOT, rel)
        if not osp.isfile(src):  # deleted but still in the index
            continue
        os.makedirs(osp.dirname(osp.join(dest, rel)), exist_ok=True)
        shutil.copy2(src, osp.join(dest, rel))
    return dest


def _dependency_farm(folder):
    """Symlinks to this interpreter's site-packages entries, without this
    package's install (dist-info, editable finder and its .pth)."""
    site = sysconfig.get_paths()['purelib']
    os.makedirs(folder)
    for name in os.listdir(site):
        low = name.lower()
        if low.startswith(
            ('mmseg_stunet', 'mmseg-stunet', '__editable__', '__pycache__')
        ) or low.endswith('.pth'):
            continue
        os.symlink(osp.join(site, name), osp.join(folder, name))
    return folder


@pytest.fixture(scope='module', params=['wheel', 'editable'])
def installed(request, tmp_path_factory):
    """``dict(mode, python, site, src, work, env, pkg)``: ``env`` is what
    mim needs on top (``PYTHONPATH`` for the editable install), ``pkg`` the
    package folder mim should use."""
    mode = request.param
    tmp = tmp_path_factory.mktemp(f'mim-{mode}')
    venv = tmp / 'venv'
    _run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], tmp)
    python = str(venv / 'bin' / 'python')
    site = _run(
        [
            python,
            '-c',
            'import sysconfig; print(sysconfig.get_paths()["purelib"])',
        ],
        tmp,
    ).stdout.strip()
    farm = _dependency_farm(str(tmp / 'deps'))
    with open(osp.join(site, 'zz_deps.pth'), 'w') as f:
        f.write(farm + '\n')
    src = _copy_checkout(str(tmp / 'src'))
    _run(
        [
            python,
            '-m',
            'pip',
            'install',
            '--no-deps',
            '--no-build-isolation',
            '--no-index',
            '--disable-pip-version-check',
            '-q',
            *(['-e'] if mode == 'editable' else []),
            src,
        ],
        tmp,
        timeout=600,
    )
    work = tmp / 'work'
    work.mkdir()
    if mode == 'editable':
        env, pkg = {'PYTHONPATH': src}, osp.join(src, 'mmseg_stunet')
    else:
        env, pkg = {}, osp.join(site, 'mmseg_stunet')
    return dict(
        mode=mode,
        python=python,
        site=site,
        src=src,
        work=str(work),
        env=env,
        pkg=pkg,
    )


def test_package_configs_and_tools_come_from_the_install(installed):
    python, pkg, work = (
        installed['python'],
        installed['pkg'],
        installed['work'],
    )
    out = _run(
        [
            python,
            '-c',
            (
                'import mmseg_stunet, mmseg_stunet.utils.paths as p\n'
                'print(mmseg_stunet.__file__)\nprint(p.project_root())'
            ),
        ],
        work,
    ).stdout.split()
    mim = osp.join(pkg, '.mim')
    if installed['mode'] == 'wheel':
        assert out == [osp.join(pkg, '__init__.py'), mim]
    else:  # the checkout copy, which holds configs/ itself
        assert out == [osp.join(pkg, '__init__.py'), installed['src']]
    for rel in (
        'model-index.yml',
        'tools/train.py',
        'tools/test.py',
        'configs/st_unet/metafile.yaml',
        'configs/_base_/default_runtime.py',
    ):
        path = osp.join(mim, rel)
        assert osp.isfile(path), rel
        # copies in a wheel, links into the checkout in an editable install
        assert osp.realpath(path).startswith(
            installed['site']
            if installed['mode'] == 'wheel'
            else installed['src'] + os.sep
        ), rel
    if installed['mode'] == 'editable':
        return  # the checkout's own configs, loaded by the unit tests
    # every shipped config loads from .mim (relative _base_, mmseg::)
    code = (
        'import glob, os, sys\nfrom mmengine.config import Config\n'
        'for p in sorted(glob.glob(sys.argv[1] + "/configs/*/*.py")):\n'
        '    assert Config.fromfile(p).custom_imports.imports == '
        '["mmseg_stunet"], p\n'
        '    print("config:", os.path.relpath(p, sys.argv[1]))'
    )
    shipped = [
        line.split()[1]
        for line in _run([python, '-c', code, mim], work).stdout.splitlines()
        if line.startswith('config: ')
    ]
    ours = sorted(
        osp.relpath(p, ROOT)
        for p in glob.glob(osp.join(ROOT, 'configs', '*', '*.py'))
    )
    assert shipped == ours


def test_mim_search_lists_the_models(installed):
    python, work = installed['python'], installed['work']
    cmd = [python, '-m', 'mim', 'search', 'mmseg_stunet']
    out = _run(cmd, work, env=installed['env']).stdout
    for name in (
        'st-unet_1xb8-100e_vaihingen-256x256',
        'deeplabv3plus_r50-d8_1xb8-100e_vaihingen-256x256',
        'vainf-deeplabv3plus_r101-os8_4xb4-30k_voc12aug-513x513',
    ):
        assert name in out, out[-3000:]
    if installed['mode'] == 'editable':  # without PYTHONPATH: see above
        proc = _run(cmd, work, check=False)
        assert proc.returncode != 0
        assert 'site-packages/mmseg_stunet/model-index.yml' in proc.stdout


def test_mim_train_and_test(installed):
    python, work, env = (
        installed['python'],
        installed['work'],
        installed['env'],
    )
    mim = osp.join(installed['pkg'], '.mim')
    data = write_shapes_dataset(osp.join(work, 'data'))
    with open(osp.join(ROOT, 'tests', 'data', 'tiny_fcn_config.py')) as f:
        tiny = f.read()
    runtime = osp.join(mim, 'configs', '_base_', 'default_runtime.py')
    body = tiny.split('\n_base_ = ', 1)[1].split('\n', 1)[1]
    config = osp.join(work, 'tiny.py')
    with open(config, 'w') as f:
        f.write(TINY_BASE.format(runtime=runtime) + body)
    opts = ['--cfg-options'] + [
        f'{loader}_dataloader.dataset.data_root={data}'
        for loader in ('train', 'val', 'test')
    ]
    out = _run(
        [
            python,
            '-m',
            'mim',
            'train',
            'mmseg_stunet',
            config,
            '--work-dir',
            'run',
            *opts,
        ],
        work,
        env=env,
    ).stdout
    # mim ran the package's tools/train.py
    assert (
        f'Training command is {python} {mim}/tools/train.py {config}' in out
    ), out[-3000:]
    assert 'Iter(train) [2/2]' in out, out[-3000:]
    ckpt = osp.join(work, 'run', 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = _run(
        [
            python,
            '-m',
            'mim',
            'test',
            'mmseg_stunet',
            config,
            '--checkpoint',
            ckpt,
            '--work-dir',
            'test',
            *opts,
        ],
        work,
        env=env,
    ).stdout
    assert (
        f'Testing command is {python} {mim}/tools/test.py {config} '
        f'{ckpt}' in out
    ), out[-3000:]
    assert 'mIoU' in out, out[-3000:]


def test_mim_train_finds_a_config_by_name(installed):
    """``mim train mmseg_stunet NAME.py`` takes the config from the
    installed copy in site-packages; here its data folder does not exist,
    which the tool says in one line. (The editable install's configs are
    the checkout's: test_mim_train_and_test covers that mode.)"""
    if installed['mode'] == 'editable':
        pytest.skip('wheel mode only (keeps the e2e test short)')
    python, work, env = (
        installed['python'],
        installed['work'],
        installed['env'],
    )
    name = 'st-unet-tiny_1xb8-600iter_synthetic-vaihingen-128x128.py'
    proc = _run(
        [
            python,
            '-m',
            'mim',
            'train',
            'mmseg_stunet',
            name,
            '--work-dir',
            'by-name',
        ],
        work,
        env=env,
        check=False,
    )
    where = osp.join(installed['pkg'], '.mim')
    assert f'will use {where}/configs/st_unet/{name} instead' in proc.stdout, (
        proc.stdout[-3000:]
    )
    assert proc.returncode != 0
    assert (
        'error: [Errno 2] No such file or directory: '
        "'work_dirs/demo/data/img_dir/train'" in proc.stdout
    ), proc.stdout[-3000:]
