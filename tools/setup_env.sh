#!/usr/bin/env bash
# Idempotent set-up of the project's environment.
#
#   bash tools/setup_env.sh            # creates ./.venv and installs everything
#   bash tools/setup_env.sh [--system] [--wheels DIR] [--cuda-arch "8.0;9.0"] [--no-cuda-ops]
#                           [--dry-run]
#
# Modes (they combine):
#   (default)          a virtual environment in STUNET_VENV (default <checkout>/.venv)
#   --system           install into the interpreter STUNET_PYTHON (default python3) as it
#                      is, no venv: its torch (CUDA or not) and its packages are kept;
#                      torch must already be importable there and is never installed
#                      or upgraded.                          (env: STUNET_SYSTEM=1)
#   --wheels DIR       offline: every pip call gets --no-index --find-links DIR; DIR
#                      holds wheels (tools/fetch_wheels.sh fills it) and either an mmcv
#                      2.1.0 wheel that works with the environment's torch or the
#                      mmcv-2.1.0.tar.gz source archive to build from.
#                                                            (env: STUNET_WHEELS=DIR)
#   --cuda-arch LIST   build mmcv's CUDA ops for these architectures only, e.g.
#                      "8.0;9.0" (env: TORCH_CUDA_ARCH_LIST). Without it the visible
#                      GPUs' architectures are used, or torch's default list if none.
#   --no-cuda-ops      build mmcv's CPU ops only, also where nvcc and a CUDA torch are
#                      there (a CUDA build of mmcv takes many minutes more; the project
#                      runs without it: DeformConvV2 then uses torchvision's op or its
#                      own PyTorch kernel on the GPU).          (env: STUNET_CUDA_OPS=0)
#   --dry-run          print the plan (interpreter, torch, mmcv wheel cache key, CUDA
#                      architectures) as key=value lines and change nothing.
#
# Environment knobs:
#   STUNET_VENV   where the venv lives            (default: <checkout>/.venv)
#   STUNET_CACHE  built mmcv wheels, build logs    (default: ~/.cache/mmseg-stunet)
#   STUNET_PYTHON interpreter: creates the venv, or is the environment with --system
#                 (default: python3)
#   MAX_JOBS      parallel compile jobs for mmcv  (default: nproc)
#
# What it does, and why:
# * torch: with --system, the environment's torch; in a venv, a CUDA torch already
#   there is kept, otherwise torch==2.13.0. Every pip call gets a constraints file
#   pinning torch to the installed version, so nothing can move it.
# * mmcv 2.1.0 with compiled ops (MMSegmentation 1.2.2 imports mmcv.ops). No wheel
#   exists for current torch, so it is built once from the source archive with
#   -std=c++20 (torch >= 2.10 headers need it; mmcv forces c++14/17), with CUDA ops
#   when nvcc and a CUDA torch are present, and the wheel is cached in
#   $STUNET_CACHE/wheels keyed by python, torch, CUDA version and CUDA architectures.
#   Later runs reuse it. The build runs in the background with its full output in
#   $STUNET_CACHE/logs/mmcv-build-*.log and a progress line every minute.
# * setuptools >= 77.0.3 (torch) and < 80.9 (keeps pkg_resources, which mmcv's
#   build, openmim and mmengine import, without the UserWarning that 80.9 added
#   to it), held by the constraints file for every install.
# * OpenCV: an environment that has cv2 from opencv-python-headless (or a contrib
#   build) keeps it. mmengine's and mmcv's wheels ask for opencv-python, which pip
#   would install beside it (two packages writing cv2) or, offline, not find: there
#   the OpenMMLab stack is installed with --no-deps and its other requirements
#   after it (tools/lib/missing_requirements.py, counting the installed OpenCV).
# * openmim is installed without its opendatalab/openxlab download client,
#   which pins setuptools~=60.2 and is not used by `mim train/test`.
# The package lists are in tools/lib/packages.sh (shared with tools/fetch_wheels.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/packages.sh
. "$ROOT/tools/lib/packages.sh"
# shellcheck source=lib/progress.sh
. "$ROOT/tools/lib/progress.sh"

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo pipefail/{/^set /d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
truthy() { case "${1:-}" in 1 | [Tt]rue | TRUE | [Yy]es | YES | on | ON) return 0 ;; *) return 1 ;; esac; }

SYSTEM=0
if truthy "${STUNET_SYSTEM:-}"; then SYSTEM=1; fi
WHEELS="${STUNET_WHEELS:-}"
DRY_RUN=0
NO_CUDA_OPS=0
if [ "${STUNET_CUDA_OPS:-}" = 0 ]; then NO_CUDA_OPS=1; fi
ARCH_GIVEN=0  # --cuda-arch on the command line
while [ $# -gt 0 ]; do
    case "$1" in
    --system) SYSTEM=1 ;;
    --wheels) [ $# -ge 2 ] || die "--wheels needs a folder"; WHEELS="$2"; shift ;;
    --wheels=*) WHEELS="${1#*=}" ;;
    --cuda-arch) [ $# -ge 2 ] || die "--cuda-arch needs a list, e.g. \"8.0;9.0\""
        export TORCH_CUDA_ARCH_LIST="$2"; ARCH_GIVEN=1; shift ;;
    --cuda-arch=*) export TORCH_CUDA_ARCH_LIST="${1#*=}"; ARCH_GIVEN=1 ;;
    --no-cuda-ops) NO_CUDA_OPS=1 ;;
    --dry-run) DRY_RUN=1 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
done
if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then unset TORCH_CUDA_ARCH_LIST; fi

VENV="${STUNET_VENV:-$ROOT/.venv}"
CACHE="${STUNET_CACHE:-$HOME/.cache/mmseg-stunet}"
PY_BOOT="${STUNET_PYTHON:-python3}"
MMCV_VERSION="$STUNET_MMCV_VERSION"

PIP_SRC=()        # where pip looks for packages (default: the index)
EDITABLE_OPTS=()
if [ -n "$WHEELS" ]; then
    [ -d "$WHEELS" ] || die "--wheels: no such folder: $WHEELS"
    WHEELS="$(cd "$WHEELS" && pwd)"
    PIP_SRC=(--no-index --find-links "$WHEELS")
    # setuptools' develop would run a pip of its own (with an index): PEP 660 instead,
    # with the build tools already installed
    EDITABLE_OPTS=(--use-pep517 --no-build-isolation)
fi

# Temporary files and a background build are cleaned up however the script ends.
TMP_PATHS=()
cleanup() {
    stop_background
    if [ ${#TMP_PATHS[@]} -gt 0 ]; then rm -rf "${TMP_PATHS[@]}"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# -- the interpreter -------------------------------------------------------------
TORCH_VER=''
TORCH_CUDA=''
torch_probe() {  # prints "VERSION CUDA" or, failing, "ErrorType: message"
    "$PY" - 2>/dev/null <<'EOF'
import sys
try:
    import torch
except BaseException as e:  # noqa: B036 - report anything, in one line
    msg = str(e).splitlines()[0] if str(e) else ''
    print(f'{type(e).__name__}: {msg}'.rstrip(': '))
    sys.exit(1)
print(torch.__version__, torch.version.cuda or 'none')
EOF
}
TORCH_PROBE=''
read_torch() {  # sets TORCH_VER/TORCH_CUDA (TORCH_PROBE: the error); fails without torch
    TORCH_PROBE="$(torch_probe)" || return 1
    TORCH_PROBE="${TORCH_PROBE##*$'\n'}"  # the last line (torch may print on import)
    read -r TORCH_VER TORCH_CUDA <<<"$TORCH_PROBE"
    if [ "$TORCH_CUDA" = none ]; then TORCH_CUDA=''; fi
}

if [ "$SYSTEM" = 1 ]; then
    MODE=system
    PY="$("$PY_BOOT" -c 'import sys; print(sys.executable)' 2>/dev/null)" ||
        die "--system: cannot run the Python interpreter '$PY_BOOT' (set STUNET_PYTHON)"
    read_torch ||
        die "--system: torch is not importable by $PY (${TORCH_PROBE:-import failed}); install torch in that environment first, the set-up keeps it and never installs one"
    "$PY" -m pip --version >/dev/null 2>&1 ||
        die "--system: $PY has no pip ('$PY -m pip' fails); install pip in that environment"
    PREFIX="$("$PY" -c 'import sys; print(sys.prefix)')"
    STATE="$CACHE/envs/$(printf '%s\n' "$PY" "$PREFIX" | sha256sum | cut -c1-16)"
    STAMP="$STATE/setup-stamp"
    MMCV_MARK="$STATE/mmcv-key"
    WHERE="$PY"
else
    MODE=venv
    PY="$VENV/bin/python"
    STAMP="$VENV/.mmseg-stunet-setup"
    MMCV_MARK="$VENV/.mmseg-stunet-mmcv"
    WHERE="$VENV"
fi
PIP=("$PY" -m pip --disable-pip-version-check)

# -- what mmcv build this environment needs ---------------------------------------
NVCC=''
CUDA_OPS=0
MMCV_KEY=''
WHEELDIR=''
PYTAG=''
plan_mmcv() {  # needs TORCH_VER/TORCH_CUDA; sets PYTAG, CUDA_OPS, MMCV_KEY, WHEELDIR
    if [ -n "${CUDA_HOME:-}" ] && [ -x "$CUDA_HOME/bin/nvcc" ]; then
        NVCC="$CUDA_HOME/bin/nvcc"
    else
        NVCC="$(command -v nvcc 2>/dev/null || true)"
    fi
    local arch
    PYTAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
    MMCV_KEY="mmcv-$MMCV_VERSION-$PYTAG-torch$TORCH_VER-cuda${TORCH_CUDA:-none}"
    if [ -n "$TORCH_CUDA" ] && [ -n "$NVCC" ] && [ "$NO_CUDA_OPS" = 0 ]; then
        CUDA_OPS=1
        if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then
            # what torch would pick itself (the visible GPUs), made explicit for the key
            arch="$("$PY" -c 'import torch
if torch.cuda.is_available():
    caps = {torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())}
    print(";".join("%d.%d" % c for c in sorted(caps)))' 2>/dev/null || true)"
            if [ -n "$arch" ]; then export TORCH_CUDA_ARCH_LIST="$arch"; fi
        fi
        arch="${TORCH_CUDA_ARCH_LIST:-default}"
        MMCV_KEY="$MMCV_KEY-arch$(printf '%s' "$arch" | tr -s '; ,' '_' | sed 's/^_//;s/_$//')"
    elif [ -n "$TORCH_CUDA" ]; then
        MMCV_KEY="$MMCV_KEY-cpuops"  # CUDA torch, no nvcc or --no-cuda-ops: CPU ops only
    fi
    WHEELDIR="$CACHE/wheels/$MMCV_KEY"
}

if [ "$DRY_RUN" = 1 ]; then
    if [ "$MODE" = venv ] && [ -x "$PY" ]; then read_torch || true; fi
    if [ -n "$TORCH_VER" ]; then plan_mmcv; fi
    venv_line="venv=$VENV"
    if [ "$MODE" = system ]; then venv_line='venv='; elif [ ! -x "$PY" ]; then venv_line="$venv_line (to be created)"; fi
    printf '%s\n' "mode=$MODE" "python=$PY" "$venv_line" "wheels=$WHEELS" \
        "pip_source=${PIP_SRC[*]:-index}" \
        "torch=${TORCH_VER:-none (to be installed: $STUNET_DEFAULT_TORCH)}" \
        "torch_cuda=$TORCH_CUDA" "nvcc=$NVCC" "cuda_ops=$CUDA_OPS" \
        "TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-}" \
        "mmcv_key=$MMCV_KEY" "mmcv_wheel_dir=$WHEELDIR" "stamp=$STAMP"
    exit 0
fi

# -- fast path: nothing changed since the last complete set-up of this environment --
stamp_key() {
    cat "$ROOT/tools/setup_env.sh" "$ROOT"/tools/lib/*.sh "$ROOT/setup.py"
    printf '%s\n' "$ROOT" "$CACHE" "$MODE" "$PY" "$TORCH_VER" "${TORCH_CUDA_ARCH_LIST:-}"
}
if [ "$MODE" = venv ] && [ ! -x "$PY" ]; then
    log "creating virtual environment $VENV"
    "$PY_BOOT" -m venv "$VENV"
fi
KEY="$(stamp_key | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KEY" ] &&
    "$PY" -c 'import mmcv.ops, mmseg, mmpretrain, mim, mmseg_stunet' 2>/dev/null; then
    log "environment up to date ($WHERE)"
    exit 0
fi
rm -f "$STAMP"
mkdir -p "$CACHE" "$(dirname "$STAMP")"
if [ -n "$WHEELS" ]; then log "offline: packages from $WHEELS only (pip --no-index)"; fi

# 'pip install' that never moves the installed torch.
CONSTRAINTS="$(mktemp)"
TMP_PATHS+=("$CONSTRAINTS")
write_constraints() {
    {
        if [ -n "$TORCH_VER" ]; then echo "torch==$TORCH_VER"; fi
        echo "$STUNET_SETUPTOOLS"
    } >"$CONSTRAINTS"
}
pip_install() { "${PIP[@]}" install -q -c "$CONSTRAINTS" ${PIP_SRC[@]+"${PIP_SRC[@]}"} "$@"; }

write_constraints
pip_install "${STUNET_BUILD_PKGS[@]}"

# -- torch -------------------------------------------------------------------
if [ "$MODE" = system ]; then
    log "keeping the environment's torch $TORCH_VER (CUDA ${TORCH_CUDA:-none}) in $PY"
elif "$PY" -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
    log "keeping CUDA torch $("$PY" -c 'import torch; print(torch.__version__)')"
elif ! "$PY" -c 'import torch' 2>/dev/null; then
    log "installing $STUNET_DEFAULT_TORCH"
    pip_install "$STUNET_DEFAULT_TORCH" numpy
fi
read_torch || die "torch does not import in $PY"
TORCH_BEFORE="$TORCH_VER"
write_constraints

# -- mmcv with compiled ops ---------------------------------------------------
mmcv_ok() {  # mmcv $MMCV_VERSION with the compiled extension (with CUDA if CUDA_OPS=1)
    "$PY" - "$MMCV_VERSION" "$CUDA_OPS" <<'EOF' 2>/dev/null
import sys
import mmcv
from mmcv.ops import ModulatedDeformConv2d  # noqa: F401 - needs the compiled extension
ok = mmcv.__version__ == sys.argv[1]
if sys.argv[2] == '1':
    from mmcv.ops import get_compiling_cuda_version
    ok = ok and get_compiling_cuda_version() != 'not available'
sys.exit(0 if ok else 1)
EOF
}

build_mmcv() {  # $1: directory to write the wheel into
    local out="$1" work src blog
    work="$(mktemp -d)"
    TMP_PATHS+=("$work")
    blog="$CACHE/logs/mmcv-build-$(date +%Y%m%d-%H%M%S)-$$.log"
    mkdir -p "$CACHE/logs"
    : >"$blog"
    log "building mmcv $MMCV_VERSION from source, once (about 11 min on 2 cores for CPU ops, longer with CUDA ops); log: $blog"
    if [ -n "$WHEELS" ]; then
        [ -f "$WHEELS/mmcv-$MMCV_VERSION.tar.gz" ] ||
            die "no working mmcv $MMCV_VERSION wheel and no mmcv-$MMCV_VERSION.tar.gz in $WHEELS to build from (tools/fetch_wheels.sh puts it there)"
        cp "$WHEELS/mmcv-$MMCV_VERSION.tar.gz" "$work/"
    else
        "${PIP[@]}" download --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$work" >>"$blog" 2>&1 ||
            die "could not download the mmcv $MMCV_VERSION source archive; log: $blog"
    fi
    tar -xzf "$work/mmcv-$MMCV_VERSION.tar.gz" -C "$work"
    src="$work/mmcv-$MMCV_VERSION"
    # torch >= 2.10 headers use C++20; mmcv hard-codes c++14/c++17.
    sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$src/setup.py"
    local build_env=(MMCV_WITH_OPS=1 "MAX_JOBS=${MAX_JOBS:-$(nproc)}")
    if [ "$CUDA_OPS" = 1 ]; then
        log "nvcc ($NVCC) and torch with CUDA $TORCH_CUDA: building CUDA ops too, for architectures ${TORCH_CUDA_ARCH_LIST:-"torch's default list (no GPU visible; --cuda-arch chooses)"}"
        build_env+=(FORCE_CUDA=1)
    elif [ -n "$TORCH_CUDA" ]; then
        if [ "$NO_CUDA_OPS" = 1 ]; then
            log "--no-cuda-ops: building CPU ops only (torch has CUDA $TORCH_CUDA)"
        else
            log "torch has CUDA $TORCH_CUDA but no nvcc was found: building CPU ops only"
        fi
        build_env+=(CUDA_VISIBLE_DEVICES=)  # mmcv would try CUDA when it sees a GPU
    fi
    printf '%s\n' "# ${build_env[*]} pip wheel $src" "# torch $TORCH_VER, CUDA ${TORCH_CUDA:-none}" >>"$blog"
    run_logged "$blog" "building mmcv $MMCV_VERSION" env "${build_env[@]}" \
        "${PIP[@]}" wheel -v --no-deps --no-build-isolation ${PIP_SRC[@]+"${PIP_SRC[@]}"} \
        -w "$work/dist" "$src" || exit
    local whl
    whl="$(ls "$work"/dist/mmcv-*.whl)"
    mkdir -p "$out"
    cp "$whl" "$out/.partial.whl"
    mv "$out/.partial.whl" "$out/$(basename "$whl")"  # atomic: no half-written cache
}

# OpenCV already there under another name than opencv-python (see the header)
CV_DIST="$("$PY" - <<'EOF'
from importlib import metadata
names = {(d.metadata['Name'] or '').lower() for d in metadata.distributions()}
if 'opencv-python' not in names:
    print(next((n for n in ('opencv-python-headless', 'opencv-contrib-python',
                            'opencv-contrib-python-headless') if n in names), ''))
EOF
)"
if [ -n "$CV_DIST" ]; then
    log "keeping $CV_DIST for cv2: packages asking for opencv-python are installed without their dependencies, then what they miss"
fi
without_opencv() {  # the arguments less opencv-python where CV_DIST stands in
    local p
    for p in "$@"; do
        if [ -z "$CV_DIST" ] || [ "${p%%[<>=!~ ]*}" != opencv-python ]; then printf '%s\n' "$p"; fi
    done
}
# 'pip install' of packages some of which ask for opencv-python: as it is, or
# with CV_DIST there, --no-deps and then their missing requirements
pip_install_cv() {
    if [ -z "$CV_DIST" ]; then pip_install "$@"; return; fi
    local names=() p reqs round
    mapfile -t reqs < <(without_opencv "$@")
    pip_install --no-deps "${reqs[@]}"
    for p in "${reqs[@]}"; do names+=("${p%%[<>=!~ ]*}"); done
    for round in 1 2 3; do
        mapfile -t reqs < <("$PY" "$ROOT/tools/lib/missing_requirements.py" \
            --alias "opencv-python=$CV_DIST" "${names[@]}")
        [ ${#reqs[@]} -gt 0 ] || return 0
        pip_install "${reqs[@]}"
    done
    die "requirements still missing after three rounds: ${reqs[*]}"
}

install_mmcv() {  # $1: wheel file
    pip_install --no-deps --force-reinstall "$1"
    # mmcv's own runtime requirements (no-deps above keeps pip away from torch).
    pip_install_cv "${STUNET_MMCV_DEPS[@]}"
}

plan_mmcv
if mmcv_ok && { [ "$CUDA_OPS" = 0 ] || [ "$(cat "$MMCV_MARK" 2>/dev/null)" = "$MMCV_KEY" ] ||
    { [ ! -f "$MMCV_MARK" ] && [ "$ARCH_GIVEN" = 0 ]; }; }; then
    log "mmcv $MMCV_VERSION with ops already installed"
else
    done_mmcv=0
    if ls "$WHEELDIR"/mmcv-*.whl >/dev/null 2>&1; then
        log "using cached mmcv wheel from $WHEELDIR"
        install_mmcv "$(ls "$WHEELDIR"/mmcv-*.whl | head -n 1)"
        done_mmcv=1
    elif [ -n "$WHEELS" ]; then
        for whl in "$WHEELS"/mmcv-"$MMCV_VERSION"-"$PYTAG"-*.whl; do
            [ -f "$whl" ] || continue
            log "trying mmcv wheel $whl (its CUDA architectures are not checked)"
            install_mmcv "$whl"
            if mmcv_ok; then
                done_mmcv=1
                break
            fi
            log "$(basename "$whl") does not work with torch $TORCH_VER here; building from source instead"
        done
    fi
    if [ "$done_mmcv" = 0 ]; then
        build_mmcv "$WHEELDIR"
        install_mmcv "$(ls "$WHEELDIR"/mmcv-*.whl | head -n 1)"
    fi
    mmcv_ok || die "mmcv.ops failed to import after install"
    echo "$MMCV_KEY" >"$MMCV_MARK"
fi

# -- the OpenMMLab stack, test tools, and this project ---------------------------
pip_install_cv "${STUNET_STACK_PKGS[@]}"
pip_install "${STUNET_MIM_DEPS[@]}"
pip_install --no-deps "${STUNET_NODEPS_PKGS[@]}"
pip_install --no-deps ${EDITABLE_OPTS[@]+"${EDITABLE_OPTS[@]}"} -e "$ROOT"
"$PY" -c 'import mmseg_stunet, mmseg, mmcv.ops; print("mmseg-stunet ready:", mmseg.__version__)'
read_torch || die "torch no longer imports in $PY"
[ "$TORCH_VER" = "$TORCH_BEFORE" ] || die "torch changed from $TORCH_BEFORE to $TORCH_VER in $PY"
echo "$KEY" >"$STAMP"
if [ "$MODE" = system ]; then
    log "done: mmseg-stunet installed for $PY (torch $TORCH_VER kept)"
else
    log "done: activate with 'source $VENV/bin/activate'"
fi
