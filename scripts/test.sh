#!/usr/bin/env bash
# Run the whole test suite from a fresh clone: set up (with the browser), then pytest. The suite
# includes building the book in the quick profile (every chapter executed by papermill and its
# reproduction checks asserted) and opening every page in headless Chromium.
#
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -m "not book"   # unit tests only (extra args go to pytest)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
exec .venv/bin/python -m pytest "$@"
