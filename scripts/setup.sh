#!/usr/bin/env bash
# Idempotent setup: system packages, the project venv (.venv) with the pinned stack, editable install.
# Safe to run again: it only does what is missing. Used by `make setup`, `make run`, `make test` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(bubblewrap fonts-dejavu-core fonts-dejavu-extra)  # sandbox walls; fonts for the task images
APT_PACKAGES+=(gcc)  # builds sandbox/_spawn.c (the Python headers come with the interpreter)
# chromium: the report tests drive it with playwright (never `playwright install`: that downloads a browser)
APT_PACKAGES+=(chromium)
PIP_VERSION=26.3

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
    $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q "${missing[@]}" >/dev/null; }
fi

# The real interpreter, not a pyenv shim (a shim costs ~90 ms per start and hides the prefix the sandbox binds).
PY=$(command -v python3.11 >/dev/null && python3.11 -c 'import sys; print(sys.executable)' || true)
if [ -z "$PY" ]; then
  echo "setup: Python 3.11 is required (python3.11 not found on PATH)" >&2; exit 1
fi

stamp=.venv/.setup-stamp
want=$(cat pyproject.toml scripts/setup.sh sandbox/_spawn.c | sha256sum | cut -c1-16)  # a changed C file rebuilds
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && .venv/bin/python -c 'import sandbox._spawn, pipelines' 2>/dev/null; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
log=.venv/setup.log
pip_install() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1 || { cat "$log"; exit 1; }; }
pip_install "pip==$PIP_VERSION"
# torch is pinned exactly in pyproject so pip takes the CPU wheel from local disk, never a CUDA build.
pip_install -e '.[train,dev]'
.venv/bin/python -m pip check
echo "$want" > "$stamp"
echo "setup: ready ($(du -sh .venv | cut -f1) in .venv)"
