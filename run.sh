#!/usr/bin/env bash
# Set up (first time) and start mTLS Lab. `./run.sh` opens the GUI;
# `./run.sh demo` runs the whole classroom walkthrough headless; `./run.sh --help` lists commands.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh app >&2
exec .venv/bin/python main.py "$@"
