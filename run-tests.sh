#!/usr/bin/env bash
# Set up (first time, including the Debian packages the tests call) and run every test.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh test
export QT_QPA_PLATFORM=offscreen
.venv/bin/ruff check .
.venv/bin/mypy core embedded_server
exec .venv/bin/python -m pytest "$@"
