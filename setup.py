import os.path as osp

from setuptools import find_packages, setup


def version() -> str:
    """``__version__`` of mmseg_stunet/version.py, without importing it."""
    scope = {}
    with open(osp.join(osp.dirname(__file__), 'mmseg_stunet',
                       'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmseg-stunet',
    version=version(),
    description='ST-UNet (Swin Transformer Embedding UNet) and DeepLabV3+ '
    'set-ups for remote-sensing segmentation in MMSegmentation 1.x',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmseg_stunet', 'mmseg_stunet.*']),
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
