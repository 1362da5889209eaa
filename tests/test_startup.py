"""A light ``import mmseg_stunet`` that still registers everything, and
tools whose ``--help`` imports no torch (behaviour, not timing: the
figures are printed by tools/benchmarks/bench_startup.py)."""

import glob
import os.path as osp
import subprocess
import sys
import textwrap

import pytest

from mmseg_stunet.registration import LOCATIONS
from mmseg_stunet.utils.paths import project_root

ROOT = project_root()

#: what ``import mmseg_stunet`` must not import
HEAVY = (
    'torch',
    'mmcv',
    'mmseg',
    'rasterio',
    'onnx',
    'onnxruntime',
    'cv2',
    'mmpretrain',
)

#: a class of this package registered in each registry of LOCATIONS
REGISTERED = {
    'MODELS': [
        'STUNetBackbone',
        'STUNetHead',
        'ClassWiseDiceLoss',
        'VainFDeepLabV3PlusHead',
    ],
    'DATASETS': ['ISPRSVaihingenDataset', 'ISPRSPotsdamDataset'],
    'TRANSFORMS': ['CheckSegMap'],
    'METRICS': ['ISPRSMetric'],
    'HOOKS': ['DivergenceHook', 'AtomicCheckpointHook'],
    'RUNNERS': ['CheckedRunner'],
    'MODEL_WRAPPERS': ['CPUDistributedDataParallel'],
    'OPTIM_WRAPPERS': ['MixedPrecisionOptimWrapper'],
}


def run_python(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, '-c', textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def cli_tools():
    tools = []
    for path in sorted(
        glob.glob(osp.join(ROOT, 'tools', '*.py'))
        + glob.glob(osp.join(ROOT, 'tools', '*', '*.py'))
    ):
        rel = osp.relpath(path, ROOT).replace(osp.sep, '/')
        with open(path) as f:
            text = f.read()
        if (
            "__name__ == '__main__'" in text
            and not rel.startswith('tools/lib/')
            and ('argparse' in text or 'import main' in text)
        ):
            tools.append(rel)
    return tools


def test_import_is_light():
    out = run_python(f"""
        import sys
        import mmseg_stunet
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
        """)
    assert out.strip() == '[]'


def test_the_locations_cover_every_registration():
    """Every module that registers something is reached from LOCATIONS
    (a new module must be added there, or to an imported package)."""
    modules = {m for mods in LOCATIONS.values() for m in mods}
    pattern = '.register_module('
    for path in glob.glob(
        osp.join(ROOT, 'mmseg_stunet', '**', '*.py'), recursive=True
    ):
        with open(path) as f:
            if pattern not in f.read():
                continue
        name = osp.splitext(osp.relpath(path, ROOT))[0].replace(osp.sep, '.')
        assert any(name == m or name.startswith(m + '.') for m in modules), (
            f'{name} registers classes but no location imports it'
        )


@pytest.mark.parametrize(
    'order', ['package first', 'registry searched first', 'custom_imports']
)
def test_registration_in_every_registry(order):
    """The classes are found whatever was imported or searched before."""
    before = {
        'package first': 'import mmseg_stunet',
        # mmseg's registries already searched (their _imported set)
        'registry searched first': (
            'from mmseg.registry import MODELS, HOOKS\n'
            'MODELS.get("ResNetV1c"); HOOKS.get("SegVisualizationHook")\n'
            'import mmseg_stunet'
        ),
        # as MMSegmentation's own tools and mim load a project config
        'custom_imports': (
            'import tempfile\n'
            'from mmengine.config import Config\n'
            'f = tempfile.NamedTemporaryFile("w", suffix=".py")\n'
            'f.write("custom_imports = dict(imports=[\'mmseg_stunet\'])")\n'
            'f.flush()\n'
            'Config.fromfile(f.name)\n'
            'assert "mmseg_stunet" in sys.modules'
        ),
    }[order]
    out = run_python(
        'import sys\n'
        + before
        + f"""
import mmseg.registry
for attr, names in {REGISTERED!r}.items():
    registry = getattr(mmseg.registry, attr)
    for name in names:
        cls = registry.get(name)
        assert cls is not None, (attr, name)
        assert cls.__module__.startswith('mmseg_stunet.'), (attr, name)
from mmseg_stunet.models.backbones import STUNetBackbone
assert STUNetBackbone is mmseg.registry.MODELS.get('STUNetBackbone')
print('ok')
"""
    )
    assert out.strip() == 'ok'


@pytest.mark.parametrize('order', ['torch first', 'package first'])
def test_checkpoint_allow_list_is_applied(order):
    """mmengine's HistoryBuffer is allow-listed before mmengine can load a
    checkpoint, whether torch was imported before the package or after."""
    code = (
        {
            'torch first': 'import torch, mmengine.logging\nimport mmseg_stunet',
            'package first': 'import mmseg_stunet\nimport torch',
        }[order]
        + """
from mmengine.runner import load_checkpoint  # noqa: F401
from mmengine.logging import HistoryBuffer
assert HistoryBuffer in torch.serialization.get_safe_globals()
print('ok')
"""
    )
    assert run_python(code).strip() == 'ok'


@pytest.mark.parametrize('tool', cli_tools())
def test_help_imports_no_torch(tool):
    """``--help`` answers before torch (or MMSegmentation) is imported."""
    out = run_python(f"""
        import atexit, runpy, sys
        atexit.register(lambda: print('TORCH', 'torch' in sys.modules))
        sys.argv = [{tool!r}, '--help']
        sys.path.insert(0, {osp.dirname(tool)!r})
        runpy.run_path({tool!r}, run_name='__main__')
        """)
    assert 'usage:' in out
    assert out.strip().endswith('TORCH False'), out[-300:]
