#!/usr/bin/env bash
# One-command setup: system packages, the virtual environment at .venv with the project
# installed (pinned), and the Allure report generator. Safe to re-run.
#   scripts/setup.sh            everything
#   SKIP_APT=1 scripts/setup.sh  skip system packages (already installed)
set -euo pipefail
cd "$(dirname "$0")/.."

# ffmpeg: decoding, clips; socat/libportaudio2: real-transport tests and audio capture;
# opencv-doc, frozen-bubble-data: real footage and music the simulated device plays.
APT_PACKAGES=(ffmpeg socat libportaudio2 opencv-doc frozen-bubble-data)
if [ "${SKIP_APT:-0}" != 1 ]; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "setup: installing system packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

PYTHON="${PYTHON:-python3.11}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
# requirements.lock pins every transitive package; pyproject pins the direct ones.
.venv/bin/pip install -q --disable-pip-version-check -c requirements.lock -e '.[dev,ml]'

if command -v npm >/dev/null 2>&1; then
  npm ci --silent --no-audit --no-fund >/dev/null
else
  echo "setup: npm not found; 'harness report' needs Node.js + npm (Allure 3)" >&2
fi
echo "setup: done. Activate with: source .venv/bin/activate"
