"""Set-up modes of ``tools/setup_env.sh``: into an existing environment
(``--system``), offline from a wheel folder (``--wheels`` with
``tools/fetch_wheels.sh``), and mmcv for chosen CUDA architectures
(``--cuda-arch``), plus the build's progress/log helper.

The main test builds an "existing environment that already holds torch": a
fresh venv whose only extra path (a ``.pth`` file) is a folder of symlinks to
torch and torch's own dependencies in this interpreter's site-packages. It
fills a wheel folder with the companion command (network to the registry is
used there; pip's cache makes it fast) plus the already built mmcv wheel from
the set-up's cache, then runs the set-up with ``--system --wheels`` while pip's
configuration is dropped and its index and proxy point to a local trap port
that counts connections: the set-up must not reach any network, must not
create a venv, and must leave torch's files as they were.
"""

import hashlib
import importlib.metadata as metadata
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / 'tools' / 'setup_env.sh'
FETCH = ROOT / 'tools' / 'fetch_wheels.sh'
PYTAG = f'cp{sys.version_info[0]}{sys.version_info[1]}'


def _run(cmd, env=None, timeout=900, check=True):
    proc = subprocess.run(
        cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f'{cmd} failed ({proc.returncode}):\n'
            f'{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}'
        )
    return proc


def _dry_run(*args, env=None):
    """``setup_env.sh ARGS --dry-run`` as a dict of its key=value lines."""
    out = _run(['bash', str(SETUP), *args, '--dry-run'], env=env).stdout
    return dict(line.split('=', 1) for line in out.splitlines() if '=' in line)


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# -- the existing environment --------------------------------------------------
def _torch_closure():
    """torch's distribution and those it needs, installed here."""
    found, todo = {}, ['torch']
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found[name] = dist
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({'extra': ''}):
                todo.append(req.name)
    return found


def _expose(dists, site):
    """Symlink each distribution's top-level files/folders into ``site``."""
    site.mkdir()
    for dist in dists.values():
        assert dist.files, f'{dist.metadata["Name"]} lists no files'
        tops = {Path(f).parts[0] for f in dist.files}
        for top in sorted(tops - {'..', '__pycache__'}):
            src = Path(dist.locate_file(top))
            if src.exists() and not (site / top).exists():
                (site / top).symlink_to(src)


def _torch_fingerprint(python):
    """torch's version, where it imports from, and hashes of its files."""
    code = (
        'import hashlib, importlib.metadata as m, torch\n'
        'd = m.distribution("torch")\n'
        'rec, = [f for f in d.files if f.name == "RECORD"]\n'
        'files = [d.locate_file(rec), torch.__file__, torch.version.__file__]\n'
        'print(torch.__version__, torch.__file__, *(hashlib.sha256('
        'open(f, "rb").read()).hexdigest() for f in files))'
    )
    return _run([str(python), '-c', code]).stdout.split()


def _make_torch_env(tmp):
    """A venv that sees torch (and its dependencies) and nothing else."""
    env_dir = tmp / 'env'
    _run([sys.executable, '-m', 'venv', str(env_dir)])
    python = env_dir / 'bin' / 'python'
    site = Path(
        _run(
            [
                str(python),
                '-c',
                'import sysconfig; print(sysconfig.get_paths()["purelib"])',
            ]
        ).stdout.strip()
    )
    torch_site = tmp / 'torch_site'
    _expose(_torch_closure(), torch_site)
    (site / 'zz_torch_site.pth').write_text(f'{torch_site}\n')
    return python, site, torch_site


class _TrapPort:
    """A local port that accepts and counts connections, then drops them."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


def _offline_env(trap, **extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(('PIP_', 'STUNET_'))
        and k not in ('VIRTUAL_ENV', 'PYTHONPATH', 'TORCH_CUDA_ARCH_LIST')
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,  # no find-links / indexes from pip.conf
        PIP_INDEX_URL=f'http://127.0.0.1:{trap.port}/simple',
        PIP_PROXY=f'http://127.0.0.1:{trap.port}',
        PIP_RETRIES='0',
        PIP_TIMEOUT='5',
        **extra,
    )
    return env


def _this_platform():
    libc, version = platform.libc_ver()
    if sys.platform != 'linux' or libc != 'glibc':
        pytest.skip('the wheel folder test targets glibc Linux')
    major, minor = version.split('.')[:2]
    return f'manylinux_{major}_{minor}_{platform.machine()}'


@pytest.fixture(scope='module')
def cached_mmcv_wheel():
    """The mmcv wheel the default set-up built for this interpreter's torch."""
    plan = _dry_run(
        '--system', env={**os.environ, 'STUNET_PYTHON': sys.executable}
    )
    wheels = sorted(Path(plan['mmcv_wheel_dir']).glob('mmcv-*.whl'))
    if not wheels:
        pytest.skip(
            f'no cached mmcv wheel in {plan["mmcv_wheel_dir"]} '
            '(run tools/setup_env.sh first; a build takes 11 min)'
        )
    return wheels[0]


@pytest.fixture(scope='module')
def wheel_folder(tmp_path_factory):
    """``tools/fetch_wheels.sh`` for this Python and platform."""
    tmp = tmp_path_factory.mktemp('wheels')
    probe = _run(
        [
            sys.executable,
            '-m',
            'pip',
            'download',
            '-q',
            '--no-deps',
            '-d',
            str(tmp / 'probe'),
            'addict',
        ],
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip('no package registry reachable for tools/fetch_wheels.sh')
    wheels = tmp / 'wheels'
    _run(
        [
            'bash',
            str(FETCH),
            str(wheels),
            '--python-version',
            '%d.%d' % sys.version_info[:2],
            '--platform',
            _this_platform(),
        ],
        env={**os.environ, 'STUNET_PYTHON': sys.executable},
    )
    names = [p.name for p in wheels.iterdir()]
    assert 'mmcv-2.1.0.tar.gz' in names
    assert any(n.startswith('mmsegmentation-1.2.2-') for n in names)
    assert not any(n.startswith('torch-') for n in names), names
    return wheels


def test_offline_setup_into_existing_torch_env(
    tmp_path, wheel_folder, cached_mmcv_wheel
):
    python, site, torch_site = _make_torch_env(tmp_path)
    before = _torch_fingerprint(python)
    assert Path(before[1]).parent == torch_site / 'torch', before
    # the wheel folder, plus a ready mmcv for this torch instead of a build
    wheels = tmp_path / 'wheels'
    shutil.copytree(wheel_folder, wheels)
    shutil.copy(cached_mmcv_wheel, wheels)

    no_venv = tmp_path / 'venv-must-not-appear'
    trap = _TrapPort()
    try:
        env = _offline_env(
            trap,
            STUNET_PYTHON=str(python),
            STUNET_CACHE=str(tmp_path / 'cache'),
            STUNET_VENV=str(no_venv),
        )
        proc = _run(
            ['bash', str(SETUP), '--system', '--wheels', str(wheels)], env=env
        )
        assert 'mmseg-stunet ready' in proc.stdout, proc.stdout
        assert 'trying mmcv wheel' in proc.stderr, proc.stderr
        again = _run(
            ['bash', str(SETUP), '--system', '--wheels', str(wheels)], env=env
        )
        assert 'environment up to date' in again.stderr, again.stderr
    finally:
        trap.close()
    assert trap.hits == 0, 'pip tried to reach the network'
    assert not no_venv.exists()

    # it works, with the same torch, untouched
    _run([str(python), '-c', 'import mmseg_stunet, mmcv.ops, mmseg, mim'])
    assert _torch_fingerprint(python) == before
    assert not list(site.glob('torch')) and not list(site.glob('torch-*'))


def test_offline_setup_keeps_a_headless_opencv(
    tmp_path, wheel_folder, cached_mmcv_wheel
):
    """An environment whose cv2 comes from opencv-python-headless (the lent
    GPU machine's image): mmengine's and mmcv's wheels ask for
    opencv-python, which the folder need not hold. The set-up installs the
    stack offline without a second OpenCV, and cv2 stays the one there."""
    import cv2

    python, site, torch_site = _make_torch_env(tmp_path)
    real = Path(cv2.__file__).parent
    for top in (real, real.parent / 'opencv_python.libs'):
        if top.exists():
            (torch_site / top.name).symlink_to(top)
    info = torch_site / 'opencv_python_headless-4.99.0.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text(
        'Metadata-Version: 2.1\nName: opencv-python-headless\n'
        'Version: 4.99.0\nRequires-Dist: numpy\n'
    )
    (info / 'RECORD').write_text('')
    wheels = tmp_path / 'wheels'
    shutil.copytree(
        wheel_folder, wheels, ignore=shutil.ignore_patterns('opencv_python-*')
    )
    shutil.copy(cached_mmcv_wheel, wheels)
    trap = _TrapPort()
    try:
        env = _offline_env(
            trap,
            STUNET_PYTHON=str(python),
            STUNET_CACHE=str(tmp_path / 'cache'),
        )
        proc = _run(
            ['bash', str(SETUP), '--system', '--wheels', str(wheels)], env=env
        )
    finally:
        trap.close()
    assert trap.hits == 0, 'pip tried to reach the network'
    assert 'keeping opencv-python-headless for cv2' in proc.stderr
    assert not list(site.glob('opencv_python-*')), 'a second OpenCV'
    out = _run(
        [
            str(python),
            '-c',
            'import cv2, mmseg_stunet, mmcv.ops, '
            'mmengine; print(cv2.__file__)',
        ]
    ).stdout
    assert out.strip().startswith(str(torch_site)), out


FAKE_MMCV_SETUP = """\
import sys, time
print('compiling the fake ops', flush=True)
time.sleep(2.5)
sys.exit('fake compiler error')
"""


def test_offline_build_failure_names_its_log(tmp_path, wheel_folder):
    """No usable mmcv wheel: the build runs from the folder's source archive,
    with progress lines, and its failure names the log."""
    python, _, _ = _make_torch_env(tmp_path)
    wheels = tmp_path / 'wheels'
    wheels.mkdir()
    for pattern in ('setuptools-*', 'wheel-*', 'packaging-*', 'ninja-*'):
        for whl in wheel_folder.glob(pattern):
            shutil.copy(whl, wheels)
    src = tmp_path / 'mmcv-2.1.0'
    src.mkdir()
    (src / 'setup.py').write_text(FAKE_MMCV_SETUP)
    subprocess.run(
        [
            'tar',
            '-czf',
            str(wheels / 'mmcv-2.1.0.tar.gz'),
            '-C',
            str(tmp_path),
            'mmcv-2.1.0',
        ],
        check=True,
    )
    trap = _TrapPort()
    try:
        env = _offline_env(
            trap,
            STUNET_PYTHON=str(python),
            STUNET_CACHE=str(tmp_path / 'cache'),
            STUNET_PROGRESS_INTERVAL='1',
        )
        proc = _run(
            ['bash', str(SETUP), '--system', '--wheels', str(wheels)],
            env=env,
            check=False,
        )
    finally:
        trap.close()
    assert trap.hits == 0, 'pip tried to reach the network'
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    logs = list((tmp_path / 'cache' / 'logs').glob('mmcv-build-*.log'))
    assert len(logs) == 1, proc.stderr
    assert any(
        'building mmcv 2.1.0 ...' in ln and f'elapsed (log: {logs[0]})' in ln
        for ln in lines
    ), lines
    assert lines[-1].startswith('[setup] error: building mmcv 2.1.0 failed')
    assert lines[-1].endswith(f'full log: {logs[0]}'), lines[-1]
    assert 'fake compiler error' in logs[0].read_text()
    assert not list((tmp_path / 'cache' / 'wheels').glob('*/mmcv-*.whl'))


def test_system_without_torch_fails_in_one_line(tmp_path):
    bare = tmp_path / 'bare'
    _run([sys.executable, '-m', 'venv', '--without-pip', str(bare)])
    python = bare / 'bin' / 'python'
    env = {
        **os.environ,
        'STUNET_PYTHON': str(python),
        'STUNET_CACHE': str(tmp_path / 'cache'),
    }
    env.pop('PYTHONPATH', None)
    proc = _run(['bash', str(SETUP), '--system'], env=env, check=False)
    assert proc.returncode != 0
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert str(python) in lines[0] and 'torch' in lines[0], lines
    assert not (tmp_path / 'cache').exists()


FAKE_CUDA_TORCH = """\
__version__ = "2.11.0+cu130"
class version:
    cuda = "13.0"
class cuda:
    @staticmethod
    def is_available():
        return False
"""


def test_cuda_arch_in_cache_key(tmp_path):
    # a stand-in for a CUDA torch and nvcc: only the dry-run plan is asked for
    (tmp_path / 'fake' / 'torch').mkdir(parents=True)
    (tmp_path / 'fake' / 'torch' / '__init__.py').write_text(FAKE_CUDA_TORCH)
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'nvcc').write_text('#!/bin/sh\nexit 0\n')
    (bin_dir / 'nvcc').chmod(0o755)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ('CUDA_HOME', 'TORCH_CUDA_ARCH_LIST')
    }
    env.update(
        STUNET_PYTHON=sys.executable,
        STUNET_CACHE=str(tmp_path / 'cache'),
        PYTHONPATH=str(tmp_path / 'fake'),
        PATH=f'{bin_dir}{os.pathsep}{env["PATH"]}',
    )

    plan = _dry_run('--system', '--cuda-arch', '8.0;9.0', env=env)
    assert plan['torch'] == '2.11.0+cu130' and plan['cuda_ops'] == '1'
    assert plan['TORCH_CUDA_ARCH_LIST'] == '8.0;9.0'
    assert plan['mmcv_key'] == (
        f'mmcv-2.1.0-{PYTAG}-torch2.11.0+cu130-cuda13.0-arch8.0_9.0'
    )
    assert plan['mmcv_wheel_dir'] == str(
        tmp_path / 'cache' / 'wheels' / plan['mmcv_key']
    )

    # the standard environment variable does the same
    plan = _dry_run('--system', env={**env, 'TORCH_CUDA_ARCH_LIST': '8.6'})
    assert plan['mmcv_key'].endswith('-cuda13.0-arch8.6')
    # no list and no GPU visible: torch's default list, its own cache entry
    plan = _dry_run('--system', env=env)
    assert plan['mmcv_key'].endswith('-cuda13.0-archdefault')
    assert plan['TORCH_CUDA_ARCH_LIST'] == ''
    # no nvcc: CPU ops only, whatever the list
    path = os.pathsep.join(
        d
        for d in env['PATH'].split(os.pathsep)
        if not os.path.exists(os.path.join(d, 'nvcc'))
    )
    plan = _dry_run(
        '--system', '--cuda-arch', '9.0', env={**env, 'PATH': path}
    )
    assert plan['cuda_ops'] == '0'
    assert plan['mmcv_key'].endswith('-cuda13.0-cpuops')
    assert not (tmp_path / 'cache').exists()  # a dry run changes nothing


def test_build_progress_and_log(tmp_path):
    log = tmp_path / 'logs' / 'build.log'
    script = (
        f'. {ROOT}/tools/lib/progress.sh; '
        'STUNET_PROGRESS_INTERVAL=1 run_logged "$1" "building demo" '
        'bash -c "echo compiling; sleep 2.5; echo boom; exit 3"'
    )
    proc = _run(['bash', '-c', script, 'x', str(log)], check=False)
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    progress = [ln for ln in lines if 'building demo ...' in ln]
    assert progress and all(f'elapsed (log: {log})' in ln for ln in progress)
    assert 'boom' in proc.stderr  # the log's last lines
    assert lines[-1].startswith('[setup] error: building demo failed')
    assert lines[-1].endswith(f'full log: {log}')
    assert log.read_text().split() == ['compiling', 'boom']
