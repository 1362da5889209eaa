#!/usr/bin/env bash
# Lint and format check (ruff, configured in ruff.toml); CI runs it.
#   bash tools/lint.sh          check only (exit 1 on a finding)
#   bash tools/lint.sh --fix    sort imports, fix what is safe, format
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${STUNET_VENV:-$ROOT/.venv}/bin/python"
RUFF_VERSION=0.17.6  # the one pin of the linter
if ! "$PY" -m ruff --version 2>/dev/null | grep -qx "ruff $RUFF_VERSION"; then
    "$PY" -m pip install -q "ruff==$RUFF_VERSION"
fi
cd "$ROOT"
if [ "${1:-}" = --fix ]; then
    "$PY" -m ruff check --fix .
    "$PY" -m ruff format .
else
    "$PY" -m ruff check .
    "$PY" -m ruff format --check .
fi
