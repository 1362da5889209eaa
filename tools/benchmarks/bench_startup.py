"""Start-up time: ``import mmseg_stunet`` and every tool's ``--help``.

    python tools/benchmarks/bench_startup.py [--rounds 7] [--root DIR]

Each figure is the wall time of a fresh ``python`` process (interpreter
start included), run ``--rounds`` times; min and median are printed so the
noise of a shared machine is visible (the min is the figure to compare).
Also printed: ``python -c pass`` (the interpreter alone), ``import torch``
and ``import mmseg.registry`` for scale, the package import followed by a
registry look-up (what the first model build pays once: the registries
import the package's modules then), and whether each command imported
torch. ``--root`` measures another checkout (e.g. the code before a
change); its ``mmseg_stunet`` is put first on ``PYTHONPATH``.
"""

import argparse
import glob
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Sequence, Tuple

HERE = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: tools/ scripts that are not command-line tools with ``--help``
NOT_CLI = (
    'tools/benchmarks/head_params.py',
    'tools/benchmarks/dcn_impls.py',
    'tools/lib/',
)

#: appended to a measured program: says whether torch was imported
PROBE = (
    "import sys; print('TORCH=' + str('torch' in sys.modules), "
    'file=sys.stderr)'
)


def tools(root: str) -> List[str]:
    """``tools/*.py`` and ``tools/*/*.py`` that parse arguments."""
    found = []
    for path in sorted(
        glob.glob(osp.join(root, 'tools', '*.py'))
        + glob.glob(osp.join(root, 'tools', '*', '*.py'))
    ):
        rel = osp.relpath(path, root).replace(os.sep, '/')
        if any(rel.startswith(skip) for skip in NOT_CLI):
            continue
        with open(path) as f:
            text = f.read()
        # a script run as a program that parses arguments (its own, or
        # through the main it imports, as the ISPRS converters do)
        if "__name__ == '__main__'" in text and (
            'argparse' in text or 'import main' in text
        ):
            found.append(rel)
    return found


def commands(root: str) -> Dict[str, List[str]]:
    """label -> argv of each measured process (run with cwd ``root``)."""
    py = sys.executable
    out = {
        'python -c pass': [py, '-c', 'pass'],
        'import torch': [py, '-c', 'import torch'],
        'import mmseg.registry': [py, '-c', 'import mmseg.registry'],
        'import mmseg_stunet': [py, '-c', 'import mmseg_stunet; ' + PROBE],
        # the deferred part: what the first build of a model pays
        'import mmseg_stunet + MODELS.get(STUNetBackbone)': [
            py,
            '-c',
            'import mmseg_stunet; from mmseg.registry import '
            'MODELS; MODELS.get("STUNetBackbone")',
        ],
    }
    for tool in tools(root):
        # runpy keeps the tool's own sys.argv handling; the probe runs at
        # exit (argparse's --help ends with SystemExit)
        code = (
            'import atexit, runpy, sys; '
            f'atexit.register(lambda: exec({PROBE!r})); '
            f'sys.argv = [{tool!r}, "--help"]; '
            f'sys.path.insert(0, {osp.dirname(tool)!r}); '
            f'runpy.run_path({tool!r}, run_name="__main__")'
        )
        out[f'{tool} --help'] = [py, '-c', code]
    return out


def measure(
    argv: Sequence[str], root: str, rounds: int
) -> Tuple[List[float], bool, int]:
    """(wall seconds of each round, torch imported, exit status)."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [root] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]
    )
    times, torch_loaded, code = [], False, 0
    for _ in range(rounds):
        start = time.perf_counter()
        proc = subprocess.run(
            argv, cwd=root, env=env, capture_output=True, text=True
        )
        times.append(time.perf_counter() - start)
        torch_loaded = 'TORCH=True' in proc.stderr
        code = proc.returncode
    return times, torch_loaded, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--rounds',
        type=int,
        default=7,
        help='fresh processes per command (default 7)',
    )
    parser.add_argument(
        '--root', default=HERE, help='checkout to measure (default: this one)'
    )
    args = parser.parse_args()
    root = osp.abspath(args.root)
    print(
        f'{root}: best of {args.rounds} fresh processes, '
        f'{os.cpu_count()} CPUs, load average '
        f'{" ".join(f"{x:.2f}" for x in os.getloadavg())}'
    )
    print(f'{"command":<52} {"min s":>6} {"median s":>8}  torch')
    for label, argv in commands(root).items():
        times, torch_loaded, code = measure(argv, root, args.rounds)
        note = '' if code == 0 else f'  (exit {code})'
        probed = any('TORCH=' in part for part in argv)
        torch_col = ('yes' if torch_loaded else 'no') if probed else ''
        print(
            f'{label:<52} {min(times):>6.2f} '
            f'{statistics.median(times):>8.2f}  {torch_col}{note}',
            flush=True,
        )


if __name__ == '__main__':
    main()
