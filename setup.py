import os
import os.path as osp
import platform
import shutil
import sys

from setuptools import find_packages, setup

#: what mim needs from the checkout, shipped in ``mmseg_stunet/.mim``
MIM_FILES = ('tools', 'configs', 'model-index.yml')


def version() -> str:
    """``__version__`` of mmseg_stunet/version.py, without importing it."""
    scope = {}
    with open(
        osp.join(osp.dirname(__file__), 'mmseg_stunet', 'version.py')
    ) as f:
        exec(f.read(), scope)
    return scope['__version__']


def add_mim_extension() -> None:
    """Put ``configs``, ``tools`` and ``model-index.yml`` into
    ``mmseg_stunet/.mim`` for OpenMMLab's ``mim`` (``mim search / train /
    test mmseg_stunet``), as MMSegmentation's setup.py does: symlinks for a
    develop or editable build (edits in the checkout show at once), copies
    for a wheel or sdist (``pip install .``), so the installed package holds
    them. Other commands (``egg_info``, ...) leave ``.mim`` as it is.
    """
    if any(cmd in sys.argv for cmd in ('develop', 'editable_wheel')):
        mode = 'copy' if platform.system() == 'Windows' else 'symlink'
    elif any(cmd in sys.argv for cmd in ('sdist', 'bdist_wheel')):
        mode = 'copy'
    else:
        return
    repo_path = osp.dirname(osp.abspath(__file__))
    mim_path = osp.join(repo_path, 'mmseg_stunet', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for filename in MIM_FILES:
        src_path = osp.join(repo_path, filename)
        tar_path = osp.join(mim_path, filename)
        if not osp.exists(src_path):
            continue
        if osp.isfile(tar_path) or osp.islink(tar_path):
            os.remove(tar_path)
        elif osp.isdir(tar_path):
            shutil.rmtree(tar_path)
        if mode == 'symlink':
            os.symlink(osp.relpath(src_path, mim_path), tar_path)
        elif osp.isfile(src_path):
            shutil.copyfile(src_path, tar_path)
        else:
            shutil.copytree(
                src_path,
                tar_path,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'),
            )


add_mim_extension()
setup(
    name='mmseg-stunet',
    version=version(),
    description='ST-UNet (Swin Transformer Embedding UNet) and DeepLabV3+ '
    'set-ups for remote-sensing segmentation in MMSegmentation 1.x',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmseg_stunet', 'mmseg_stunet.*']),
    # mmseg_stunet/.mim (configs, tools, model-index.yml), see MANIFEST.in
    include_package_data=True,
    python_requires='>=3.8',
    install_requires=[
        'torch>=2.4',  # weights_only allow-lists, mmap loads, SDPA scale
        'mmengine>=0.10.0,<1.0',
        'mmcv>=2.0.0rc4,<2.2.0',
        'mmsegmentation>=1.2.0,<1.3',
        'numpy',
        'rasterio',  # GeoTIFF in/out of the scene predictor
    ],
    extras_require={
        'export': ['onnx', 'onnxruntime'],
        # mmpretrain: its Swin is a reference in the checkpoint tests
        'tests': ['pytest', 'onnx', 'onnxruntime', 'openmim', 'mmpretrain'],
    },
    license='Apache-2.0',
)
