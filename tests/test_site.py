"""The built book works offline in a real browser.

Serves the built HTML (the ``site_dir`` fixture from tests/conftest.py) on a loopback
http.server and opens every page with Playwright driving Debian's chromium. A page fails if
an image did not load, a figure has no caption or no real alt text, math was left as raw TeX or
MathJax reported an error, or the browser
logged a console error, an uncaught exception, a failed request or a request to anywhere but
the local server (a CDN, say: those are blocked, so the result is the same with or without a
network). Full-page screenshots go to _build/screenshots/<page>.png at the repository root.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:  # the helper module next to this file, whatever pytest's import mode
    sys.path.insert(0, _TESTS)
import sitecheck  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT_DIR = REPO_ROOT / "_build" / "screenshots"


@pytest.mark.book
def test_every_page_renders_offline(site_dir: Path) -> None:
    chromium = sitecheck.find_chromium()
    if chromium is None:
        pytest.fail(sitecheck.INSTALL_HINT, pytrace=False)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("the playwright Python package is missing: pip install -r requirements.txt",
                    pytrace=False)

    site_dir = Path(site_dir)
    assert (site_dir / "index.html").is_file(), f"{site_dir} holds no built site (no index.html)"
    pages = sitecheck.list_pages(site_dir)
    assert pages, f"no .html pages under {site_dir}"

    reports = sitecheck.check_site(site_dir, SCREENSHOT_DIR, chromium)

    opened = [r for r in reports if r.opened]
    assert opened, f"no page of {site_dir} was opened in the browser (only redirects?)"
    for r in opened:  # shown with -rP, or with the failure
        print(f"{r.page}: {r.seconds:.1f} s, {r.math_elements} math element(s), "
              f"{r.containers} typeset")
    assert sum(r.figures for r in opened) > 0, "no figure was found on any page: the caption/alt-text check saw nothing"
    problems = [f"{r.page}: {p}" for r in reports for p in r.problems]
    if problems:
        bad_pages = sum(1 for r in reports if r.problems)
        pytest.fail(
            f"{len(problems)} problem(s) on {bad_pages} of {len(reports)} page(s) "
            f"(screenshots in {SCREENSHOT_DIR}):\n  " + "\n  ".join(problems),
            pytrace=False,
        )
