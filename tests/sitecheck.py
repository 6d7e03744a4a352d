"""Open every page of the built book in a real browser and report what is broken.

Used by tests/test_site.py. The site is served from a loopback http.server, each page is
opened with Playwright driving Debian's chromium (no browser download), and per page we check
that

* every <img> loaded (``img.complete && img.naturalWidth > 0``),
* math is typeset: every Sphinx math element (``span.math``/``div.math``) holds an
  ``mjx-container``, no MathJax error node is left, and no raw TeX (``$$``, ``\\(``, ``\\[``,
  ``\\begin{``, ``\\frac``, any ``\\command``) is left in the text outside code,
* no web font failed to load (MathJax's CHTML fonts, the theme's icon fonts),
* every figure in the content has a caption (a ``figcaption`` of at least a short sentence) and
  alt text that describes it (a phrase of several words, not a file name),
* the browser reported no console error, no uncaught exception, no failed request and no
  HTTP error, and made no request outside the local server (requests elsewhere are aborted,
  so the check means the same with or without a network),

and a full-page screenshot is saved.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium",)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "Debian's chromium is not installed: run `apt-get install -y chromium` as root "
    "(Playwright drives /usr/bin/chromium; `playwright install` does not work offline)"
)

_REFRESH = re.compile(
    r"""<meta\s+http-equiv=["']?refresh["']?\s+content=["']\s*\d+\s*;\s*url=([^"']+)["']""",
    re.IGNORECASE,
)

# Runs in the page once it has loaded. Waits for lazy images, MathJax's first typeset and the
# fonts, then reports what it finds.
_PAGE_CHECK_JS = r"""
async () => {
  const timeout = (ms, v) => new Promise(r => setTimeout(() => r(v), ms));
  const out = {badImages: [], mathjax: 'absent', mathElements: 0, containers: 0,
               untypeset: [], mathErrors: [], rawTex: [], badFonts: [], figures: [], nFigures: 0};

  const imgs = Array.from(document.images);
  for (const img of imgs) if (img.loading === 'lazy') img.loading = 'eager';
  await Promise.race([
    Promise.all(imgs.map(img => img.complete ? null : new Promise(r => {
      img.addEventListener('load', r, {once: true});
      img.addEventListener('error', r, {once: true});
    }))),
    timeout(15000)]);
  for (const img of imgs) {
    if (!(img.complete && img.naturalWidth > 0)) {
      out.badImages.push(img.getAttribute('src') || img.currentSrc || img.outerHTML.slice(0, 120));
    }
  }

  // Every figure of the content (notebook outputs, markdown images) has a caption and alt text
  // that describes it: a sentence, not a file name.
  for (const img of document.querySelectorAll('article img')) {
    const src = img.getAttribute('src') || '';
    if (img.closest('nav, header, footer, .navbar, .bd-sidebar')) continue;
    out.nFigures += 1;
    const fig = img.closest('figure');
    const cap = fig ? fig.querySelector('figcaption') : null;
    const capText = cap ? cap.textContent.replace(/\s+/g, ' ').trim() : '';
    const alt = (img.getAttribute('alt') || '').trim();
    if (capText.length < 20) out.figures.push(`figure without a caption: ${src}`);
    if (alt.length < 20 || alt.split(/\s+/).length < 4 || /\.(png|jpe?g|svg|gif)$/i.test(alt) || alt.includes('_images/')) {
      out.figures.push(`figure without real alt text (alt=${JSON.stringify(alt.slice(0, 60))}): ${src}`);
    }
  }

  const MJ = window.MathJax;
  if (MJ) {
    if (MJ.startup && MJ.startup.promise) {
      out.mathjax = await Promise.race([
        MJ.startup.promise.then(() => 'typeset', e => 'failed: ' + e),
        timeout(20000, 'timed out waiting for MathJax.startup.promise')]);
    } else {
      out.mathjax = 'configured but never started (script not loaded?)';
    }
  }
  await Promise.race([document.fonts.ready, timeout(10000)]);
  out.badFonts = Array.from(document.fonts).filter(f => f.status === 'error').map(f => f.family);

  const mathEls = Array.from(document.querySelectorAll('span.math, div.math'));
  out.mathElements = mathEls.length;
  out.containers = document.querySelectorAll('mjx-container').length;
  for (const el of mathEls) {
    if (!el.querySelector('mjx-container')) out.untypeset.push(el.textContent.trim().slice(0, 80));
  }
  // MathJax's own list of what it typeset, with the TeX source: report TeX errors (merror) and
  // macros that the noundefined extension rendered as red \name text instead of failing.
  const items = (MJ && MJ.startup && MJ.startup.document && MJ.startup.document.math)
    ? Array.from(MJ.startup.document.math) : [];
  for (const item of items) {
    const src = String(item.math).trim().slice(0, 100);
    const merror = item.typesetRoot && item.typesetRoot.querySelector('mjx-merror');
    if (merror) out.mathErrors.push(`${merror.getAttribute('data-mjx-error') || 'error'} in: ${src}`);
    if (item.root && item.root.walkTree) {
      item.root.walkTree(node => {
        if (node.isKind('mtext') && node.attributes.get('mathcolor') === 'red') {
          const text = node.childNodes.map(c => (c.getText ? c.getText() : '')).join('');
          if (/^\\[A-Za-z]+$/.test(text)) out.mathErrors.push(`undefined control sequence ${text} in: ${src}`);
        }
      });
    }
  }

  // Raw TeX in the text of the page, outside code and outside typeset math. Hidden text
  // (dropdowns, toggled cell outputs) counts too: a reader can open it.
  const SKIP = 'pre, code, kbd, samp, script, style, textarea, noscript, mjx-container, .highlight';
  const RAW = /\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\\[A-Za-z]{2,}/;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode() && out.rawTex.length < 5) {
    const node = walker.currentNode;
    const parent = node.parentElement;
    if (!parent || parent.closest(SKIP)) continue;
    const text = node.nodeValue;
    const m = RAW.exec(text);
    if (m) {
      const start = Math.max(0, m.index - 30);
      out.rawTex.push(text.slice(start, m.index + 50).replace(/\s+/g, ' ').trim());
    }
  }
  return out;
}
"""


def find_chromium() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return shutil.which("chromium")


def list_pages(site_dir: Path) -> list[Path]:
    """Every .html page of the site, relative to site_dir.

    Sphinx's own folders (_static, _sources, _images, ...; the theme leaves template fragments
    such as _static/webpack-macros.html there) are not pages. search.html and genindex.html are
    kept: they are reachable from every page and run the theme's scripts too.
    """
    pages = []
    for path in sorted(site_dir.rglob("*.html")):
        rel = path.relative_to(site_dir)
        if any(part.startswith(("_", ".")) for part in rel.parts[:-1]):
            continue
        pages.append(rel)
    return pages


def redirect_target(html_file: Path) -> str | None:
    """The target of a <meta http-equiv="refresh"> stub (jupyter-book's root index.html)."""
    head = html_file.read_text(encoding="utf-8", errors="replace")[:4000]
    m = _REFRESH.search(head)
    return m.group(1).strip() if m else None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve directory on 127.0.0.1 (a free port) from a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class PageReport:
    page: str  # relative to the site root, e.g. "book/intro.html"
    problems: list[str] = field(default_factory=list)
    opened: bool = False  # False for a redirect stub, which is checked without the browser
    seconds: float = 0.0
    math_elements: int = 0
    containers: int = 0
    figures: int = 0  # content images checked for a caption and alt text


def check_site(site_dir: Path, screenshot_dir: Path, chromium: str) -> list[PageReport]:
    """Open every page of site_dir in chromium; return one report per page.

    screenshot_dir is emptied first, then gets <page>.png for every page opened.
    """
    from playwright.sync_api import sync_playwright

    site_dir = site_dir.resolve()
    reports: list[PageReport] = []
    if screenshot_dir.exists():
        shutil.rmtree(screenshot_dir)
    screenshot_dir.mkdir(parents=True)

    with serve(site_dir) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            external: list[str] = []

            def route(r) -> None:
                # Anything but the local server is blocked and recorded: with a network a CDN
                # request would succeed and hide that the site needs it.
                if r.request.url.startswith(base):
                    r.continue_()
                else:
                    external.append(r.request.url)
                    r.abort("blockedbyclient")

            context.route("**/*", route)
            for rel in list_pages(site_dir):
                report = PageReport(rel.as_posix())
                reports.append(report)
                target = redirect_target(site_dir / rel)
                if target is not None:
                    dest = (site_dir / rel).parent / target.split("#")[0].split("?")[0]
                    if not dest.is_file():
                        report.problems.append(f"redirects to {target}, which does not exist")
                    continue
                external.clear()
                _check_page(context, base + rel.as_posix(), base, report, external,
                            screenshot_dir / rel.with_suffix(".png"))
            context.close()
        finally:
            browser.close()
    return reports


def _check_page(context, url: str, base: str, report: PageReport, external: list[str],
                screenshot: Path) -> None:
    from playwright.sync_api import Error as PlaywrightError

    t0 = time.perf_counter()
    problems = report.problems

    def on_console(msg) -> None:
        # A blocked request to another host is reported once, below, as such.
        if msg.type == "error" and "ERR_BLOCKED_BY_CLIENT" not in msg.text:
            where = msg.location.get("url", "") if msg.location else ""
            problems.append(f"console error: {msg.text}" + (f" ({where})" if where else ""))

    def on_request_failed(request) -> None:
        if request.url.startswith(base):
            problems.append(f"request failed: {request.url} ({request.failure})")

    def on_response(response) -> None:
        if response.status >= 400:
            problems.append(f"HTTP {response.status} for {response.url}")

    page = context.new_page()
    page.on("console", on_console)
    page.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)
    try:
        report.opened = True
        response = page.goto(url, wait_until="load", timeout=60_000)
        if response is None or not response.ok:
            problems.append(f"could not open {url}: {response and response.status}")
        result = page.evaluate(_PAGE_CHECK_JS)
        page.wait_for_load_state("networkidle", timeout=30_000)
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    except PlaywrightError as e:
        problems.append(f"browser error: {e}")
        return
    finally:
        page.close()
        report.seconds = time.perf_counter() - t0

    for url_ in dict.fromkeys(external):
        problems.append(f"request outside the local site (blocked): {url_}")
    for family in dict.fromkeys(result["badFonts"]):
        problems.append(f"web font failed to load: {family}")
    for src in result["badImages"]:
        problems.append(f"image did not load: {src}")
    problems.extend(result["figures"])
    report.figures = result["nFigures"]
    report.math_elements = result["mathElements"]
    report.containers = result["containers"]
    if result["mathElements"] and result["mathjax"] != "typeset":
        problems.append(f"page has math but MathJax is {result['mathjax']}")
    for tex in result["untypeset"]:
        problems.append(f"math not typeset: {tex}")
    for err in result["mathErrors"]:
        problems.append(f"MathJax error: {err}")
    for snippet in result["rawTex"]:
        problems.append(f"raw TeX in the page text: ...{snippet}...")
    if result["rawTex"] and not result["containers"]:
        problems.append("raw TeX on the page and no mjx-container: math was not typeset at all")
