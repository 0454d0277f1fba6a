#!/usr/bin/env bash
# Create the virtual environment and install everything the project needs.
# Idempotent; prints nothing when there is nothing left to do.
set -euo pipefail
VENV="${1:-.venv}"
EXTRAS="${PROJECTION_EXTRAS:-dev,ray}"
quiet_pip() {
  # Build back-ends and mirror settings print warnings even with -q: show pip's output only when it fails.
  local log
  log=$(mktemp)
  if ! "$VENV/bin/python" -m pip -q --disable-pip-version-check "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV"
  python3 -m venv "$VENV"
  quiet_pip install --upgrade pip
fi
# torch first: pinned to the CPU wheel; without it pip would resolve a multi-GB CUDA build.
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  echo "installing torch 2.13.0 (CPU)"
  quiet_pip install "torch==2.13.0"
fi
# the tested versions (scripts/constraints.txt); PROJECTION_CONSTRAINTS= (empty) installs the newest instead
CONSTRAINTS="${PROJECTION_CONSTRAINTS-scripts/constraints.txt}"
echo "installing projection[$EXTRAS] and its dependencies${CONSTRAINTS:+ (versions of $CONSTRAINTS)}"
quiet_pip install ${CONSTRAINTS:+-c "$CONSTRAINTS"} -e ".[$EXTRAS]"

# Debian packages: Apertium (rule-based MT, offline) and Chromium (HTML report tests).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in apertium apertium-eng-spa apertium-eng-cat apertium-en-gl apertium-eo-en chromium; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
