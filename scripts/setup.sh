#!/usr/bin/env bash
# Set up mTLS Lab on this machine: Debian packages (only the missing ones), a
# virtual environment in .venv, and the project installed into it.
# Usage: scripts/setup.sh [app|test]
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-app}"

# Qt's offscreen platform needs these shared libraries and a font; its xcb platform (a real X11 or
# XWayland window) needs the xcb helpers too ("From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed").
debs=(libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 fonts-dejavu-core
      libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
      libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0)
if [ "$mode" = test ]; then
  # Real peers the tests drive: curl, openssl s_client, NSS's certutil/pk12util, Chromium, nginx,
  # Java's keytool, and the CAs we import from and compare with (easy-rsa, mkcert).
  debs+=(curl openssl libnss3-tools chromium nginx-light openjdk-17-jre-headless easy-rsa mkcert)
  # A real X11 display for the one test that opens the window as a user would (xcb platform).
  debs+=(xvfb xauth)
fi

if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing Debian packages: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

py="${PYTHON:-python3}"
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "mTLS Lab needs Python 3.11 or newer ($py is $("$py" --version 2>&1))" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$py" -m venv .venv

extra=""
[ "$mode" = test ] && extra="[test]"
stamp=".venv/.installed-$mode"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extra"
  touch "$stamp"
fi
