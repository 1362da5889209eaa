#!/usr/bin/env bash
# Idempotent set-up of the project's virtual environment.
#
#   bash tools/setup_env.sh            # creates ./.venv and installs everything
#
# Environment knobs:
#   STUNET_VENV   where the venv lives            (default: <checkout>/.venv)
#   STUNET_CACHE  where built mmcv wheels are kept (default: ~/.cache/mmseg-stunet)
#   STUNET_PYTHON interpreter used to create the venv (default: python3)
#   MAX_JOBS      parallel compile jobs for mmcv  (default: nproc)
#
# What it does, and why:
# * torch: a CUDA torch already in the venv is kept; otherwise torch==2.13.0.
# * mmcv 2.1.0 with compiled ops (MMSegmentation 1.2.2 imports mmcv.ops). No wheel
#   exists for current torch, so it is built once from the registry's source archive
#   with -std=c++20 (torch >= 2.10 headers need it; mmcv forces c++14/17), with CUDA
#   ops when nvcc and a CUDA torch are present, and the wheel is cached in
#   $STUNET_CACHE keyed by python, torch and CUDA version. Later runs reuse it.
# * setuptools >= 77.0.3 (torch) and < 81 (keeps pkg_resources, which mmcv's
#   build and openmim import), held by a constraints file for every install.
# * openmim is installed without its opendatalab/openxlab download client,
#   which pins setuptools~=60.2 and is not used by `mim train/test`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${STUNET_VENV:-$ROOT/.venv}"
CACHE="${STUNET_CACHE:-$HOME/.cache/mmseg-stunet}"
PY_BOOT="${STUNET_PYTHON:-python3}"
MMCV_VERSION=2.1.0

log() { printf '[setup] %s\n' "$*" >&2; }

if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtual environment $VENV"
    "$PY_BOOT" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

# Fast path: nothing changed since the last complete set-up of this venv.
STAMP="$VENV/.mmseg-stunet-setup"
stamp_key() {
    cat "$ROOT/tools/setup_env.sh" "$ROOT/setup.py"
    printf '%s\n' "$ROOT" "$CACHE"
}
KEY="$(stamp_key | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KEY" ] &&
    "$PY" -c 'import mmcv.ops, mmseg, mmpretrain, mim, mmseg_stunet' 2>/dev/null; then
    log "environment up to date ($VENV)"
    exit 0
fi
rm -f "$STAMP"

# 'pip install' that never moves the installed torch.
pip_install() { "${PIP[@]}" install -q -c "$CACHE/constraints.txt" "$@"; }

SETUPTOOLS='setuptools>=77.0.3,<81'
mkdir -p "$CACHE"
"${PIP[@]}" install -q "$SETUPTOOLS" wheel ninja

# -- torch -------------------------------------------------------------------
if "$PY" -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
    log "keeping CUDA torch $("$PY" -c 'import torch; print(torch.__version__)')"
elif ! "$PY" -c 'import torch' 2>/dev/null; then
    log "installing torch==2.13.0"
    "${PIP[@]}" install -q torch==2.13.0 numpy
fi
TORCH_VER="$("$PY" -c 'import torch; print(torch.__version__)')"
TORCH_CUDA="$("$PY" -c 'import torch; print(torch.version.cuda or "")')"
printf 'torch==%s\n%s\n' "$TORCH_VER" "$SETUPTOOLS" > "$CACHE/constraints.txt"

# -- mmcv with compiled ops ---------------------------------------------------
mmcv_ok() {
    "$PY" - "$MMCV_VERSION" <<'EOF' 2>/dev/null
import sys
import mmcv
from mmcv.ops import ModulatedDeformConv2d  # needs the compiled extension
sys.exit(0 if mmcv.__version__ == sys.argv[1] else 1)
EOF
}

build_mmcv() {  # $1: directory to write the wheel into
    local out="$1" work
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' RETURN
    log "building mmcv $MMCV_VERSION from source (about 11 min on 2 cores, once)"
    "${PIP[@]}" download -q --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$work"
    tar -xzf "$work/mmcv-$MMCV_VERSION.tar.gz" -C "$work"
    local src="$work/mmcv-$MMCV_VERSION"
    # torch >= 2.10 headers use C++20; mmcv hard-codes c++14/c++17.
    sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$src/setup.py"
    local cuda_env=()
    if [ -n "$TORCH_CUDA" ] && command -v nvcc >/dev/null 2>&1; then
        log "nvcc found and torch has CUDA $TORCH_CUDA: building CUDA ops too"
        cuda_env=(FORCE_CUDA=1)
    fi
    env MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${cuda_env[@]}" \
        "${PIP[@]}" wheel -q --no-deps --no-build-isolation -w "$work/dist" "$src"
    local whl
    whl="$(ls "$work"/dist/mmcv-*.whl)"
    mkdir -p "$out"
    cp "$whl" "$out/.partial.whl"
    mv "$out/.partial.whl" "$out/$(basename "$whl")"  # atomic: no half-written cache
}

if mmcv_ok; then
    log "mmcv $MMCV_VERSION with ops already installed"
else
    PYTAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
    WHEELDIR="$CACHE/wheels/mmcv-$MMCV_VERSION-$PYTAG-torch$TORCH_VER-cuda${TORCH_CUDA:-none}"
    if ! ls "$WHEELDIR"/mmcv-*.whl >/dev/null 2>&1; then
        build_mmcv "$WHEELDIR"
    else
        log "using cached mmcv wheel from $WHEELDIR"
    fi
    pip_install --no-deps --force-reinstall "$WHEELDIR"/mmcv-*.whl
    # mmcv's own runtime requirements (no-deps above keeps pip away from torch).
    pip_install addict 'mmengine==0.10.7' numpy packaging Pillow pyyaml yapf opencv-python
    mmcv_ok || { log "mmcv.ops failed to import after install"; exit 1; }
fi

# -- the OpenMMLab stack, test tools, and this project ---------------------------
pip_install 'mmengine==0.10.7' 'mmsegmentation==1.2.2' 'mmpretrain==1.2.0' \
    ftfy regex pytest onnx onnxruntime rasterio
pip_install click colorama model-index pandas requests rich tabulate
pip_install --no-deps 'openmim==0.3.9'
pip_install --no-deps -e "$ROOT"
"$PY" -c 'import mmseg_stunet, mmseg, mmcv.ops; print("mmseg-stunet ready:", mmseg.__version__)'
echo "$KEY" > "$STAMP"
log "done: activate with 'source $VENV/bin/activate'"
