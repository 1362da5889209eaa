#!/usr/bin/env bash
# Set up (idempotent; cached mmcv build) and run the test suite.
#   bash tools/run_tests.sh [pytest args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec "${STUNET_VENV:-$ROOT/.venv}/bin/python" -m pytest -q tests "$@"
