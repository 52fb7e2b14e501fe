#!/usr/bin/env bash
# The embedded demo (no services): set-up, then `rumour demo` with any arguments passed on.
#
#   bash scripts/demo.sh [rumour demo options]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/rumour" demo "$@"
