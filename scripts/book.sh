#!/usr/bin/env bash
# Build the book from a fresh clone: set up, execute every chapter with papermill, build the site.
#
#   bash scripts/book.sh                 # quick profile (minutes on a laptop CPU; what CI runs)
#   bash scripts/book.sh --profile paper # the paper's full settings (hours on CPU; GPU helps)
#   bash scripts/book.sh --only theorem-1-equilibrated-energy   # one chapter (+ the status page)
#
# The site lands in _build/html (open _build/html/index.html); reproduction records in
# _build/claims/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/build_book.py "$@"
