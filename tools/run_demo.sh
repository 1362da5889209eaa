#!/usr/bin/env bash
# Set up (idempotent) and run the demo: synthetic raw ISPRS tiles -> converter
# -> train a reduced-width ST-UNet on CPU -> evaluate -> metrics + colour previews.
#   bash tools/run_demo.sh [demo.py options...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec "${STUNET_VENV:-$ROOT/.venv}/bin/python" tools/demo.py "$@"
