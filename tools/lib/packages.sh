# shellcheck shell=bash
# What the set-up installs: the one list, sourced by tools/setup_env.sh (which
# installs it) and tools/fetch_wheels.sh (which downloads it for an offline set-up).
# torch is not in it: it comes from the environment (or STUNET_DEFAULT_TORCH
# for a fresh venv) and is pinned to the installed version for every pip call.

STUNET_DEFAULT_TORCH='torch==2.13.0'   # fresh venv without a (CUDA) torch
STUNET_MMCV_VERSION=2.1.0              # built from its source archive, with ops
# setuptools >= 77.0.3 (torch) and < 80.9: keeps pkg_resources (mmcv's build, mim and
# mmengine import it) without the UserWarning 80.9 added to that import, which every
# train/test run under mim or mmseg's tools printed (80.8 warns as a hidden DeprecationWarning)
STUNET_SETUPTOOLS='setuptools>=77.0.3,<80.9'
STUNET_MMENGINE='mmengine==0.10.7'     # mmcv needs it, and so does the stack

# build tools, installed first
STUNET_BUILD_PKGS=("$STUNET_SETUPTOOLS" wheel ninja)
# mmcv's runtime requirements (mmcv itself is installed with --no-deps)
STUNET_MMCV_DEPS=(addict "$STUNET_MMENGINE" numpy packaging Pillow pyyaml yapf opencv-python)
# the OpenMMLab stack and test tools
STUNET_STACK_PKGS=("$STUNET_MMENGINE" 'mmsegmentation==1.2.2' 'mmpretrain==1.2.0'
    ftfy regex pytest onnx onnxruntime rasterio)
# openmim's requirements, without its opendatalab/openxlab download client
# (which pins setuptools~=60.2 and is not used by `mim train/test`)
STUNET_MIM_DEPS=(click colorama model-index pandas requests rich tabulate)
# installed with --no-deps
STUNET_NODEPS_PKGS=('openmim==0.3.9')
