#!/usr/bin/env bash
# Bundle MathJax 3 for the book so that math is typeset with no network.
#
# Usage: scripts/fetch_mathjax.sh [DEST]      (default DEST: _mathjax at the repository root)
#
# Fetches mathjax@3.2.2 from the npm registry with `npm pack`, checks the tarball against the
# pinned sha512 integrity (the same value `npm view mathjax@3.2.2 dist.integrity` reports), and
# keeps only what es5/tex-mml-chtml.js loads at run time, under $DEST/mathjax/:
#   tex-mml-chtml.js          the combined component (TeX + MathML input, CHTML output, menu)
#   input/                    TeX extensions autoloaded on demand (\boldsymbol, \require, ...)
#   output/chtml/fonts/       the woff-v2 fonts the CHTML output uses
#   ui/ a11y/ sre/            the menu and accessibility components it loads when a reader
#                             switches them on (a11y explorer -> sre/mathmaps/*.json)
#   LICENSE                   Apache-2.0
# The book's _config.yml copies $DEST to the site root (html_extra_path: ["_mathjax"]) and points
# mathjax_path at it. Idempotent: does nothing when $DEST/mathjax/tex-mml-chtml.js exists.
set -euo pipefail

VERSION="3.2.2"
# sha512 integrity of mathjax-3.2.2.tgz as published on the npm registry.
INTEGRITY="sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/_mathjax}"
TARGET="$DEST/mathjax"

if [[ -f "$TARGET/tex-mml-chtml.js" ]]; then
    echo "fetch_mathjax: $TARGET/tex-mml-chtml.js exists; nothing to do"
    exit 0
fi

for tool in npm node tar; do
    command -v "$tool" >/dev/null || { echo "fetch_mathjax: '$tool' is required" >&2; exit 1; }
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# npm pack verifies the download against the registry's integrity itself; check it again against
# the pinned value and against what the registry reports now.
(cd "$TMP" && npm pack --silent "mathjax@$VERSION" >/dev/null)
TARBALL="$TMP/mathjax-$VERSION.tgz"
[[ -f "$TARBALL" ]] || { echo "fetch_mathjax: npm pack did not produce $TARBALL" >&2; exit 1; }

# npm always comes with node: hash the tarball with it (sha512, base64, as npm's "integrity").
ACTUAL="sha512-$(node -e 'const c=require("crypto"),fs=require("fs");
process.stdout.write(c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$TARBALL")"
REGISTRY="$(cd "$TMP" && npm view "mathjax@$VERSION" dist.integrity 2>/dev/null)" || {
    echo "fetch_mathjax: warning: npm view failed; checked against the pinned integrity only" >&2
    REGISTRY=""
}
if [[ "$ACTUAL" != "$INTEGRITY" ]]; then
    echo "fetch_mathjax: integrity mismatch for mathjax-$VERSION.tgz" >&2
    echo "  pinned:   $INTEGRITY" >&2
    echo "  tarball:  $ACTUAL" >&2
    exit 1
fi
if [[ -n "$REGISTRY" && "$REGISTRY" != "$INTEGRITY" ]]; then
    echo "fetch_mathjax: registry reports integrity $REGISTRY, expected $INTEGRITY" >&2
    exit 1
fi
echo "fetch_mathjax: mathjax-$VERSION.tgz integrity OK ($INTEGRITY)"

tar -xzf "$TARBALL" -C "$TMP"
SRC="$TMP/package"

STAGE="$TMP/stage/mathjax"
mkdir -p "$STAGE/output"
cp "$SRC/es5/tex-mml-chtml.js" "$STAGE/"
cp -R "$SRC/es5/input" "$SRC/es5/ui" "$SRC/es5/a11y" "$SRC/es5/sre" "$STAGE/"
cp -R "$SRC/es5/output/chtml" "$STAGE/output/"
cp "$SRC/LICENSE" "$STAGE/"

# Move into place in one step, so that an interrupted run leaves no half-filled $TARGET.
mkdir -p "$DEST"
rm -rf "$TARGET"
mv "$STAGE" "$TARGET"
echo "fetch_mathjax: MathJax $VERSION in $TARGET ($(du -sh "$TARGET" | cut -f1))"
