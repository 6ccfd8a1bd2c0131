#!/usr/bin/env bash
# Set up everything Foley Assistant needs in ./.venv (idempotent, fast when nothing changed).
# - System libraries (PortAudio, Qt's xcb/EGL libs, Xvfb for screenshots) via apt when run as root.
# - PyTorch: kept if already installed (e.g. your own CUDA build); else the CUDA build when an
#   NVIDIA GPU is present, the CPU wheel torch==2.13.0 otherwise (never the multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(libportaudio2 libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xkb1 xvfb)

missing=()
for p in "${SYSTEM_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing system packages: ${missing[*]}"
    # apt's and debconf's own chatter (e.g. "debconf: delaying package configuration") goes to a log,
    # shown only when the installation fails
    apt_log=$(mktemp)
    if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
          -o Dpkg::Use-Pty=0 "${missing[@]}") >"$apt_log" 2>&1; then
      tail -n 20 "$apt_log"
      echo "setup: warning: could not install ${missing[*]} (audio output or the GUI may be unavailable)"
    fi
    rm -f "$apt_log"
  else
    echo "setup: warning: missing system packages ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
  fi
fi

# pip here may list local index folders it cannot use; that warning is noise for the user.
quiet_pip() {
  local log rc=0
  log=$(mktemp)
  "$VPY" -m pip install -q "$@" >"$log" 2>&1 || rc=$?
  grep -v "is ignored: it is neither a file nor a directory" "$log" || true
  rm -f "$log"
  return "$rc"
}

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
VPY=.venv/bin/python

if ! "$VPY" -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "setup: NVIDIA GPU found; installing the CUDA build of PyTorch"
    quiet_pip torch
  elif [ -n "$("$VPY" -m pip config get global.find-links 2>/dev/null || true)" ]; then
    echo "setup: installing the CPU build torch==2.13.0 from the local wheelhouse"
    quiet_pip torch==2.13.0
  else
    echo "setup: installing the CPU build torch==2.13.0"
    quiet_pip torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
  fi
fi

stamp=".venv/.foley-installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing foley-assistant and its dependencies"
  quiet_pip -e ".[dev]"
  "$VPY" -c "import engine, foley_app" && touch "$stamp"
fi

# The pretrained sound tower's weights ship in the aisfx package, which pins numpy 1.23 and librosa
# 0.9: install it without its dependencies (engine.models.towers reads only its weights file).
if ! "$VPY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('aisfx') is None)" 2>/dev/null; then
  echo "setup: installing the pretrained sound tower (aisfx 0.1.2, without its pinned dependencies)"
  quiet_pip --no-deps aisfx==0.1.2
fi
