"""``tools/lib/missing_requirements.py``: what tools/setup_env.sh installs
after packages it installed with ``--no-deps`` (an environment whose OpenCV
is opencv-python-headless, where wheels ask for opencv-python)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = (
    Path(__file__).resolve().parents[2]
    / 'tools'
    / 'lib'
    / 'missing_requirements.py'
)


def _dist(site: Path, name: str, version: str, *requires: str) -> None:
    info = site / f'{name.replace("-", "_")}-{version}.dist-info'
    info.mkdir(parents=True)
    lines = ['Metadata-Version: 2.1', f'Name: {name}', f'Version: {version}']
    lines += [f'Requires-Dist: {r}' for r in requires]
    (info / 'METADATA').write_text('\n'.join(lines) + '\n')


def _missing(site: Path, *args: str):
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.splitlines()


@pytest.fixture
def site(tmp_path):
    _dist(
        tmp_path,
        'fake-stack',
        '1.0',
        'fake-cv>=3',
        'fake-old>=2',
        'fake-mid',
        'fake-extra; extra == "all"',
        'fake-win; sys_platform == "win32"',
    )
    _dist(tmp_path, 'fake-old', '1.0')
    _dist(tmp_path, 'fake-mid', '1.0', 'fake-deep')
    _dist(tmp_path, 'fake-cv-headless', '4.9')
    return tmp_path


@pytest.mark.parametrize(
    'alias,expected',
    [
        ([], ['fake-cv>=3', 'fake-deep', 'fake-old>=2']),
        (
            ['--alias', 'fake_cv=fake-cv-headless'],
            ['fake-deep', 'fake-old>=2'],
        ),
    ],
)
def test_unsatisfied_requirements_followed_through_installed_ones(
    site, alias, expected
):
    """Too old and absent requirements are printed, also those of installed
    dependencies; extras and other platforms are not; an alias counts the
    installed distribution (names compare normalised)."""
    assert _missing(site, 'fake-stack', *alias) == expected


def test_a_bad_alias_is_refused_in_one_line(site):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), 'fake-stack', '--alias', 'fake-cv'],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert 'NAME=OTHER' in proc.stderr and 'Traceback' not in proc.stderr
