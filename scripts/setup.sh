#!/usr/bin/env bash
# Set up everything the book and the tests need, from a fresh clone. Idempotent and quick when
# nothing changed. Used by scripts/book.sh and scripts/test.sh; not meant to be run on its own
# (but it can be).
#
#   scripts/setup.sh [--browser]
#
# 1. a virtual environment in .venv with the pinned requirements (torch==2.13.0, CPU wheel) and
#    the package installed editable;
# 2. the Debian package dataset-fashion-mnist (real Fashion-MNIST) when run as root, otherwise a
#    message saying how to install it;
# 3. MathJax 3 from the npm registry into _mathjax/ (math renders with no network);
# 4. with --browser: Debian's chromium for the real-browser test.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1

say() { printf '[setup] %s\n' "$*"; }

# ---- Python ---------------------------------------------------------------------------------
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PY="$cand"; break; fi
  done
fi
if [ -z "$PY" ] || ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  echo "[setup] Python 3.11 is required (torch==2.13.0 is pinned for it); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

stamp=.venv/.reprobook-requirements
want="$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "creating/updating .venv (pinned requirements; about a minute)"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  # a kernel of this venv's own, so papermill never picks up another python3 kernel
  .venv/bin/python -m ipykernel install --sys-prefix --name reprobook --display-name "Python (reproduction book)" >/dev/null
  echo "$want" > "$stamp"
else
  say ".venv is up to date"
fi

# ---- Debian packages --------------------------------------------------------------------------
apt_pkgs=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || apt_pkgs+=(dataset-fashion-mnist)
if [ "$want_browser" = 1 ] && ! command -v chromium >/dev/null 2>&1; then apt_pkgs+=(chromium); fi
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages: ${apt_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
  else
    say "missing Debian packages: ${apt_pkgs[*]}"
    say "  install them with: sudo apt-get install ${apt_pkgs[*]}"
    say "  (Fashion-MNIST can also be placed as IDX files in \$PCSADDLES_DATA_DIR/fashion-mnist)"
  fi
fi

# ---- MathJax (offline math) -------------------------------------------------------------------
bash scripts/fetch_mathjax.sh _mathjax
say "done"
