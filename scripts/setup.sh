#!/usr/bin/env bash
# Idempotent set-up of a fresh machine: the project's .venv with the package and its test extras.
#
#   bash scripts/setup.sh
#
# Creates <project>/.venv with python3 when missing and runs `pip install -e '.[test]'`, unless the
# stamp .venv/.rumour-setup holds the hash of the current pyproject.toml (then nothing is done).
# Environment: RUMOUR_PYTHON (interpreter for a new venv, default python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.rumour-setup"
PYTHON="${RUMOUR_PYTHON:-python3}"

say() { echo "[setup] $*"; }

if ! command -v "$PYTHON" >/dev/null; then
    say "no $PYTHON: installing python3 with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV with $($PYTHON --version 2>&1)"
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
        # Debian's python3 ships venv without ensurepip until python3-venv is installed.
        say "python3 -m venv failed: installing python3-venv with apt-get"
        rm -rf "$VENV"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        "$PYTHON" -m venv "$VENV"
    fi
else
    say "using existing $VENV ($("$VENV/bin/python" --version 2>&1))"
fi

want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/rumour" ]; then
    say "dependencies up to date (pyproject.toml unchanged since the last install)"
else
    say "pip install -e '.[test]' (this takes a few minutes on a fresh machine)"
    rm -f "$STAMP"
    (cd "$ROOT" && "$VENV/bin/python" -m pip install --quiet -e '.[test]')
    echo "$want" >"$STAMP"
    say "installed; stamp written to $STAMP"
fi

# Dashboard assets (Apache ECharts) from the npm registry, pinned by web/package-lock.json.
if ! command -v npm >/dev/null; then
    say "npm missing: installing nodejs and npm with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
web_want="$(sha256sum "$ROOT/web/package-lock.json" | cut -d' ' -f1)"
WEB_STAMP="$ROOT/web/node_modules/.rumour-setup"
if [ -f "$WEB_STAMP" ] && [ "$(cat "$WEB_STAMP")" = "$web_want" ]; then
    say "dashboard assets up to date (web/package-lock.json unchanged)"
else
    say "npm ci in web/ (dashboard assets: Apache ECharts)"
    (cd "$ROOT/web" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$web_want" >"$WEB_STAMP"
fi
