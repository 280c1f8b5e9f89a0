#!/usr/bin/env bash
# Creates .venv and installs into it what a mode needs, when missing or stale.
#
#   scripts/venv.sh run   the project and its runtime dependencies (`pip install -e .`)
#   scripts/venv.sh dev   the same, plus the test and lint tools (the `dev` extra)
#
# Each mode has its own stamp (.venv/.installed-run, .venv/.installed-dev), renewed when
# pyproject.toml changes: `run` after `dev` installs nothing, and `dev` after `run` adds
# only the dev extra's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-dev}
case "$mode" in
  run | dev) ;;
  *) echo "usage: $0 [run|dev]" >&2; exit 2 ;;
esac
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Python 3.11 or newer is needed; found $("$PYTHON" --version 2>&1)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    # Debian ships venv's pip bootstrap separately.
    rm -rf .venv
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    pkg="python3-venv"
    ver=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    apt-cache show "python$ver-venv" >/dev/null 2>&1 && pkg="python$ver-venv"
    echo "installing $pkg (needed for python -m venv)"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$pkg" >/dev/null
    "$PYTHON" -m venv .venv
  fi
fi
pip() { .venv/bin/python -m pip --disable-pip-version-check "$@"; }
stale() { [ ! -f "$1" ] || [ pyproject.toml -nt "$1" ]; }

run_stamp=.venv/.installed-run
dev_stamp=.venv/.installed-dev
if stale "$run_stamp" || [ ! -x .venv/bin/mainflux ]; then
  echo "installing mainflux and its runtime dependencies into .venv"
  pip install --quiet -e .
  touch "$run_stamp"
fi
if [ "$mode" = dev ] && stale "$dev_stamp"; then
  echo "installing the test and lint tools (the dev extra) into .venv"
  # The extra's requirements alone: the project itself is already installed above.
  .venv/bin/python - <<'EOF' >.venv/dev-requirements.txt
import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["optional-dependencies"]["dev"]))
EOF
  pip install --quiet -r .venv/dev-requirements.txt
  touch "$dev_stamp"
fi
