#!/usr/bin/env bash
# Fill a folder with what tools/setup_env.sh installs, for an offline set-up.
# Run it on a machine with network; copy DIR to the cluster; there run
#   bash tools/setup_env.sh --system --wheels DIR
#
#   bash tools/fetch_wheels.sh DIR [--python-version 3.12] [--platform manylinux_2_28_x86_64]...
#                              [--skip-installed FILE] [--skip-over BYTES] [--max-mib N]
#   bash tools/fetch_wheels.sh DIR --gpu-lease
#
#   --python-version X.Y  the cluster environment's Python (default: this interpreter's)
#   --platform TAG        the cluster's platform (default: manylinux_2_28_<this machine's
#                         arch>, glibc >= 2.28). A manylinux_2_N tag also takes wheels for
#                         every older glibc (manylinux_2_5 .. 2_N, manylinux1/2010/2014).
#                         Repeat the option for several platforms.
#   --skip-installed FILE leave out the wheels of the distributions named in FILE (one
#                         per line, '#' comments), which the target already has, when
#                         they are larger than --skip-over BYTES (default 2097152):
#                         the small ones still travel, so that pip there can resolve a
#                         version the installed one does not satisfy.
#   --max-mib N           fail (naming the largest wheels) if DIR ends up over N MiB.
#   --gpu-lease           the lent GPU machine (tools/gpu_check.sh): Python 3.12,
#                         manylinux_2_28_x86_64, --skip-installed
#                         tools/lib/gpu_lease_image.txt, --max-mib 56 (the lease carries
#                         64 MiB in all, the checkout included). See README, "GPU check".
#   STUNET_PYTHON         interpreter whose pip downloads (default: python3); any Python
#                         works, the same X.Y as the cluster is the safest.
#   STUNET_SDIST_PYTHON   interpreter with torch that reads the mmcv source archive's
#                         metadata (mmcv's setup.py imports torch; default: STUNET_PYTHON
#                         if it has torch, else the checkout's .venv).
#
# DIR gets binary wheels of every package the set-up installs and their
# dependencies, for that Python and platform, plus the mmcv 2.1.0 source archive
# (the set-up builds mmcv against the cluster's torch, with the cluster's nvcc).
# torch is not fetched: the cluster environment provides it, and the download
# stops with an error rather than fetch it should any package ask for it.
# A ready mmcv wheel built against the same torch (e.g. one from
# ~/.cache/mmseg-stunet/wheels/ on a node of the cluster) may be copied into DIR too:
# the set-up tries it first and builds only if it does not work.
# The package list is tools/lib/packages.sh, the one tools/setup_env.sh installs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/packages.sh
. "$ROOT/tools/lib/packages.sh"

log() { printf '[fetch] %s\n' "$*" >&2; }
die() { printf '[fetch] error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo pipefail/{/^set /d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

DIR=''
PYVER=''
PLATFORMS=()
SKIP_FILE=''
SKIP_OVER=2097152
MAX_MIB=
while [ $# -gt 0 ]; do
    case "$1" in
    --python-version) [ $# -ge 2 ] || die "--python-version needs X.Y"; PYVER="$2"; shift ;;
    --python-version=*) PYVER="${1#*=}" ;;
    --platform) [ $# -ge 2 ] || die "--platform needs a tag"; PLATFORMS+=("$2"); shift ;;
    --platform=*) PLATFORMS+=("${1#*=}") ;;
    --skip-installed) [ $# -ge 2 ] || die "--skip-installed needs a file"; SKIP_FILE="$2"; shift ;;
    --skip-over) [ $# -ge 2 ] || die "--skip-over needs a size in bytes"; SKIP_OVER="$2"; shift ;;
    --max-mib) [ $# -ge 2 ] || die "--max-mib needs a number"; MAX_MIB="$2"; shift ;;
    --gpu-lease)
        PYVER=3.12 PLATFORMS=(manylinux_2_28_x86_64)
        SKIP_FILE="$ROOT/tools/lib/gpu_lease_image.txt" MAX_MIB=56 ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [ -z "$DIR" ] || die "one folder only ('$DIR' and '$1')"; DIR="$1" ;;
    esac
    shift
done
[ -n "$DIR" ] || { usage >&2; exit 2; }
[[ "$SKIP_OVER" =~ ^[0-9]+$ ]] || die "--skip-over wants a size in bytes (got '$SKIP_OVER')"
[ -z "$MAX_MIB" ] || [[ "$MAX_MIB" =~ ^[0-9]+$ ]] || die "--max-mib wants a whole number (got '$MAX_MIB')"
[ -z "$SKIP_FILE" ] || [ -f "$SKIP_FILE" ] || die "--skip-installed: no such file: $SKIP_FILE"

PY="${STUNET_PYTHON:-python3}"
"$PY" -m pip --version >/dev/null 2>&1 || die "'$PY -m pip' does not work (set STUNET_PYTHON)"
if [ -z "$PYVER" ]; then
    PYVER="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
fi
[[ "$PYVER" =~ ^3\.[0-9]+$ ]] || die "--python-version wants X.Y, e.g. 3.12 (got '$PYVER')"
if [ ${#PLATFORMS[@]} -eq 0 ]; then PLATFORMS=("manylinux_2_28_$(uname -m)"); fi

# manylinux_2_N_ARCH (or a legacy alias) -> every tag a glibc-2.N machine can install
expand_platform() {
    local tag="$1" arch glibc
    case "$tag" in
    manylinux1_*) glibc=5 arch="${tag#manylinux1_}" ;;
    manylinux2010_*) glibc=12 arch="${tag#manylinux2010_}" ;;
    manylinux2014_*) glibc=17 arch="${tag#manylinux2014_}" ;;
    manylinux_2_*)
        glibc="${tag#manylinux_2_}"
        arch="${glibc#*_}"
        glibc="${glibc%%_*}"
        ;;
    *) echo "$tag"; return ;;
    esac
    [[ "$glibc" =~ ^[0-9]+$ ]] || { echo "$tag"; return; }
    local y
    for ((y = glibc; y >= 5; y--)); do echo "manylinux_2_${y}_$arch"; done
    if [ "$glibc" -ge 17 ]; then echo "manylinux2014_$arch"; fi
    if [ "$glibc" -ge 12 ]; then echo "manylinux2010_$arch"; fi
    echo "manylinux1_$arch"
}
PLAT_OPTS=()
for p in "${PLATFORMS[@]}"; do
    while read -r t; do PLAT_OPTS+=(--platform "$t"); done < <(expand_platform "$p")
done

mkdir -p "$DIR"
CONSTRAINTS="$(mktemp)"
trap 'rm -f "$CONSTRAINTS"' EXIT
# torch comes from the cluster environment: no version satisfies '<0', so a
# package asking for torch stops the download instead of fetching gigabytes.
printf '%s\n' "$STUNET_SETUPTOOLS" 'torch<0' >"$CONSTRAINTS"

PIP=("$PY" -m pip --disable-pip-version-check)
TARGET=(--only-binary=:all: --implementation cp --python-version "$PYVER" "${PLAT_OPTS[@]}")

log "wheels for Python $PYVER on ${PLATFORMS[*]} into $DIR"
"${PIP[@]}" download -q -d "$DIR" -c "$CONSTRAINTS" "${TARGET[@]}" \
    "${STUNET_BUILD_PKGS[@]}" "${STUNET_MMCV_DEPS[@]}" "${STUNET_STACK_PKGS[@]}" \
    "${STUNET_MIM_DEPS[@]}"
"${PIP[@]}" download -q -d "$DIR" -c "$CONSTRAINTS" "${TARGET[@]}" --no-deps \
    "${STUNET_NODEPS_PKGS[@]}"
log "mmcv $STUNET_MMCV_VERSION source archive"
# pip reads an sdist's metadata by running its setup.py, and mmcv's imports torch
SDIST_PY="${STUNET_SDIST_PYTHON:-}"
if [ -z "$SDIST_PY" ]; then
    if "$PY" -c 'import torch' 2>/dev/null; then SDIST_PY="$PY"; else SDIST_PY="$ROOT/.venv/bin/python"; fi
fi
"$SDIST_PY" -c 'import torch, setuptools' 2>/dev/null ||
    die "reading mmcv's source archive needs an interpreter with torch and setuptools: set STUNET_SDIST_PYTHON (or run tools/setup_env.sh first, which makes $ROOT/.venv)"
"$SDIST_PY" -m pip --disable-pip-version-check download -q -d "$DIR" --no-deps \
    --no-binary :all: --no-build-isolation "mmcv==$STUNET_MMCV_VERSION"
[ -f "$DIR/mmcv-$STUNET_MMCV_VERSION.tar.gz" ] || die "the mmcv source archive did not arrive in $DIR"

# wheels the target already has (distribution names compare normalised: PEP 503)
norm() { tr 'A-Z_.' 'a-z--' | sed 's/--*/-/g'; }
if [ -n "$SKIP_FILE" ]; then
    skipped=0
    while read -r whl; do
        name="$(basename "$whl" | cut -d- -f1 | norm)"
        if sed 's/#.*//' "$SKIP_FILE" | norm | tr -d ' \t' | grep -qxF "$name" &&
            [ "$(stat -c %s "$whl")" -gt "$SKIP_OVER" ]; then
            rm -f "$whl"
            skipped=$((skipped + 1))
        fi
    done < <(find "$DIR" -maxdepth 1 -name '*.whl')
    log "left out $skipped wheels over $SKIP_OVER bytes that the target has ($(basename "$SKIP_FILE"))"
fi
total="$(du -sb "$DIR" | cut -f1)"
mib="$(( (total + 1048575) / 1048576 ))"
if [ -n "$MAX_MIB" ] && [ "$total" -gt $((MAX_MIB * 1048576)) ]; then
    die "$DIR holds $mib MiB, over --max-mib $MAX_MIB; the largest: $(ls -S "$DIR" | head -n 3 | tr '\n' ' ')"
fi
log "done: $(find "$DIR" -maxdepth 1 -name '*.whl' | wc -l) wheels + mmcv-$STUNET_MMCV_VERSION.tar.gz in $DIR ($mib MiB)"
log "on the cluster: bash tools/setup_env.sh --system --wheels $DIR"
