#!/usr/bin/env python
"""Execute every chapter with papermill, write the reproduction-status page, build the site.

    python scripts/build_book.py [--profile quick|paper] [--only STEM ...] [-p NAME VALUE ...] [--no-site]

Sources (``_config.yml``, ``_toc.yml``, ``book/``, ``_mathjax/``) are copied to ``_build/book``;
each notebook listed in ``_toc.yml`` is executed there by papermill with the ``profile``
parameter (plus any ``-p NAME VALUE``), so executed notebooks never land in the working tree.
Each chapter's last cell writes ``_build/claims/<stem>.json`` and raises if a claim fails. The
site is built with ``jupyter-book build --all -W -n --keep-going`` and moved to ``_build/html``.
A non-quick profile uses ``_build/claims-<profile>``, ``_build/book-<profile>`` and
``_build/html-<profile>`` instead, so it never disturbs the quick build. Chapters with a
``results_dir`` parameter save finished runs under ``_build/results/<stem>/<profile>``, which
survives rebuilds: an interrupted paper run resumes.

Exit status 1, with the failing chapters named, if any notebook raised (an error or a failed
reproduction check), wrote no record, or the site build reported a warning.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import papermill
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
STAGE = BUILD / "book"
CLAIMS = BUILD / "claims"  # the quick profile; other profiles write to claims-<profile>
HTML = BUILD / "html"
TIMES = ROOT / "benchmarks" / "chapter_times.json"  # both profiles' run times
RESULTS = BUILD / "results"  # finished runs of long chapters, kept across builds
KERNEL = "pcsaddles"
STATUS_STEM = "reproduction-status"


def toc_entries(toc: dict) -> list[str]:
    """Every ``file`` of the table of contents, in reading order."""
    out = [toc["root"]]

    def walk(items):
        for item in items or []:
            if "file" in item:
                out.append(item["file"])
            walk(item.get("sections"))
            walk(item.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return out


def resolve(entry: str) -> Path:
    for suffix in (".ipynb", ".md"):
        path = ROOT / f"{entry}{suffix}"
        if path.exists():
            return path
    raise SystemExit(f"_toc.yml lists {entry!r} but neither {entry}.ipynb nor {entry}.md exists")


def stage_sources(keep_executed: set[str] = frozenset()) -> None:
    """Copy the book's sources into STAGE. Executed notebooks named in ``keep_executed`` (stems)
    that are already staged are kept, so that building a few chapters with ``--only`` does not
    throw away the other chapters executed by an earlier build (a paper build done in pieces)."""
    if not (ROOT / "_mathjax" / "mathjax" / "tex-mml-chtml.js").exists():
        raise SystemExit("MathJax is not bundled yet (_mathjax/ is missing): run `bash scripts/setup.sh` first")
    kept = {}
    for stem in keep_executed:
        path = STAGE / "book" / f"{stem}.ipynb"
        if path.exists():
            kept[stem] = path.read_bytes()
    if STAGE.exists():
        shutil.rmtree(STAGE)
    STAGE.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, STAGE / name)
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "_build")
    shutil.copytree(ROOT / "book", STAGE / "book", ignore=ignore)
    shutil.copytree(ROOT / "_mathjax", STAGE / "_mathjax")
    for stem, content in kept.items():
        (STAGE / "book" / f"{stem}.ipynb").write_bytes(content)


def hide_injected_parameters(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(nb, path)


def _has_parameter(notebook: Path, name: str) -> bool:
    nb = nbformat.read(notebook, as_version=4)
    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    return cell is not None and any(line.split("=")[0].strip() == name for line in cell.source.splitlines())


def execute(notebook: Path, profile: str, params: dict) -> tuple[float, str | None]:
    """Run one chapter; return (seconds, error message or None)."""
    stem = notebook.stem
    out = STAGE / notebook.relative_to(ROOT)
    record = CLAIMS / f"{stem}.json"
    record.unlink(missing_ok=True)
    started = time.perf_counter()
    error = None
    params = dict(params)
    if profile != "quick" and "results_dir" not in params and _has_parameter(notebook, "results_dir"):
        # finished runs of a long profile are saved outside the staging folder, which every build
        # recreates, so an interrupted run resumes on the next build (the quick profile never caches)
        params["results_dir"] = str(RESULTS / stem / profile)
    try:
        papermill.execute_notebook(
            str(notebook),
            str(out),
            parameters={"profile": profile, **params},
            kernel_name=KERNEL,
            cwd=str(out.parent),
            progress_bar=False,
            log_output=False,
        )
    except papermill.PapermillExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}"
    except Exception as exc:  # kernel died, missing kernel, bad parameters...
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    if out.exists():
        hide_injected_parameters(out)
    if error is None:
        if not record.exists():
            error = f"the notebook ran but wrote no reproduction record {record.relative_to(ROOT)}"
        elif json.loads(record.read_text()).get("profile") != profile:
            error = f"the reproduction record {record.name} is not for profile {profile!r}"
    return seconds, error


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def duration(seconds) -> str:
    """``12 s``, ``3.4 min`` or ``2.1 h``."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def run_time_section(chapters: list[tuple[str, Path]]) -> list[str]:
    """Both profiles' run times per chapter, from ``benchmarks/chapter_times.json``."""
    if not TIMES.exists():
        return []
    store = json.loads(TIMES.read_text()).get("chapters", {})
    entries = [r for rec in store.values() for r in rec.values()]
    cpus = sorted({f"{r['cpu']}, {r['cores']} cores" for r in entries if r.get("cpu")})
    gpus = sorted({r["gpu"] for r in entries if r.get("gpu")})
    machine = "; ".join(cpus) + (f"; GPU: {', '.join(gpus)}" if gpus else "; no GPU")
    lines = [
        "## Run times in both profiles",
        "",
        f"Measured with `benchmarks/chapter_times.py --record` ({machine}) and stored in "
        "`benchmarks/chapter_times.json`; the table above has this build's own times. A time marked ~ is a **projection**, not a completed run: the paper profile of that chapter "
        "takes too long for this machine, and the projection multiplies a measured per-iteration time "
        "by the paper's number of iterations (basis below).",
        "",
        "| chapter | quick | paper |",
        "|---|---|---|",
    ]
    notes = []
    for title, path in chapters:
        rec = store.get(path.stem, {})
        cells = []
        for profile in ("quick", "paper"):
            r = rec.get(profile)
            if r is None:
                cells.append("not measured")
                continue
            extra = []
            if r.get("torch_threads"):
                extra.append(f"{r['torch_threads']} thread" + ("s" if r["torch_threads"] > 1 else ""))
            if r.get("gpu"):
                extra.append(r["gpu"])
            if profile == "paper" and "mnist_subset" in r.get("data", []):
                extra.append("MNIST: the 5 000-image subset")
            cells.append(("~" if r.get("projected") else "") + duration(r.get("seconds"))
                         + (f" ({', '.join(extra)})" if extra else ""))
            if r.get("projected"):
                notes.append(f"- {title}: {r['basis']}")
        lines.append(f"| {title} | {cells[0]} | {cells[1]} |")
    dates = sorted({r["date"] for rec in store.values() for r in rec.values() if r.get("date")})
    if dates:
        lines += ["", f"Recorded on {', '.join(dates)}."]
    remarks = sorted({r["note"] for rec in store.values() for r in rec.values() if r.get("note")})
    if remarks:
        lines += ["", "Conditions of the measured runs: " + "; ".join(remarks) + "."]
    if notes:
        lines += ["", "Projections:", "", *notes]
    return lines + [""]


def write_status_page(chapters: list[tuple[str, Path]], failures: dict[str, str]) -> None:
    """Generate book/reproduction-status.md (in the staged copy) from the records."""
    overview = ["| chapter | profile | claims passed | run time |", "|---|---|---|---|"]
    details: list[str] = []
    n_pass = n_claims = 0
    for title, path in chapters:
        stem = path.stem
        record_path = CLAIMS / f"{stem}.json"
        rec = json.loads(record_path.read_text()) if record_path.exists() else None
        heading = rec["chapter"] if rec and rec.get("chapter") else title
        details += [f"## {heading}", ""]
        if stem in failures:
            details += [f"**Failed in this build:** `{failures[stem]}`", ""]
        if rec is None:
            details += ["No record: this chapter has not been executed in this build.", ""]
            overview.append(f"| {heading} | - | not run | - |")
            continue
        claims = rec.get("claims", [])
        passed = sum(c["passed"] for c in claims)
        n_pass += passed
        n_claims += len(claims)
        verdict = f"{passed} / {len(claims)}" + ("" if passed == len(claims) and stem not in failures else " **FAIL**")
        overview.append(f"| {heading} | {rec['profile']} | {verdict} | {rec['seconds']:.1f} s |")
        details += [f"Profile **{rec['profile']}**; run time {rec['seconds']:.1f} s; {passed} of {len(claims)} claims pass.", ""]
        if rec.get("data"):
            details += ["Data:", ""]
            for d in rec["data"]:
                extra = f" ({d['note']})" if d.get("note") else ""
                n = f", {d['n_samples']} samples" if d.get("n_samples") is not None else ""
                details.append(f"- {d['name']}: {d['source']}{n}{extra}")
            details.append("")
        details += ["| claim | statement | measured | target | result |", "|---|---|---|---|---|"]
        for c in claims:
            statement = str(c["statement"]).replace("|", "\\|")
            mark = "pass" if c["passed"] else "**FAIL**"
            details.append(f"| `{c['id']}` | {statement} | {_fmt(c['value'])} | {c['target']} | {mark} |")
        details.append("")
    header = [
        "# Reproduction status",
        "",
        "Generated by the book build from the records each chapter writes in its final cell "
        "(`_build/claims/<chapter>.json`). A chapter passes only when every claim meets its target; "
        "a failed claim also fails the build. Run times are those of the chapter's computations in "
        "this build (kernel start-up excluded).",
        "",
        f"**{n_pass} of {n_claims} claims pass** across {len(chapters)} chapters.",
        "",
        *overview,
        "",
        *run_time_section(chapters),
    ]
    (STAGE / "book" / f"{STATUS_STEM}.md").write_text("\n".join(header + details) + "\n")


def notebook_title(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick", choices=["quick", "paper"])
    parser.add_argument("--only", nargs="+", default=None, metavar="STEM", help="execute only these chapters")
    parser.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="extra papermill parameter (VALUE parsed as YAML), for every executed chapter")
    parser.add_argument("--no-site", action="store_true", help="execute the chapters but do not build the site")
    parser.add_argument("--stage", default=None, metavar="NAME",
                        help="stage in _build/book-NAME (site in _build/html-NAME), so that concurrent builds do not "
                             "share a staging folder")
    args = parser.parse_args()
    params = {name: yaml.safe_load(value) for name, value in args.param}
    global CLAIMS, STAGE, HTML
    if args.profile != "quick":
        # a paper run has its own records, staging folder and site: it never replaces (or deletes,
        # while it runs) those of the quick build
        CLAIMS, STAGE, HTML = (BUILD / f"{name}-{args.profile}" for name in ("claims", "book", "html"))
    if args.stage:
        STAGE, HTML = BUILD / f"book-{args.stage}", BUILD / f"html-{args.stage}"

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [resolve(entry) for entry in toc_entries(toc)]
    notebooks = [f for f in files if f.suffix == ".ipynb"]
    if args.only:
        wanted = {Path(s).stem for s in args.only}
        unknown = wanted - {nb.stem for nb in notebooks}
        if unknown:
            raise SystemExit(f"--only: no chapter named {sorted(unknown)}; chapters are {[nb.stem for nb in notebooks]}")
        to_run = [nb for nb in notebooks if nb.stem in wanted]
    else:
        to_run = notebooks
        if CLAIMS.exists():
            shutil.rmtree(CLAIMS)  # a full build never shows stale records
    CLAIMS.mkdir(parents=True, exist_ok=True)
    os.environ["PCSADDLES_CLAIMS_DIR"] = str(CLAIMS)
    if args.profile == "quick":
        # The quick profile's networks are small: OpenMP threads only add overhead there, and on a
        # machine with other load their spin-waiting costs 10-100x. Set OMP_NUM_THREADS to override.
        os.environ.setdefault("OMP_NUM_THREADS", "1")

    # with --only, keep the chapters executed by earlier builds into this staging folder
    stage_sources({nb.stem for nb in notebooks} - {nb.stem for nb in to_run} if args.only else set())
    failures: dict[str, str] = {}
    for nb in to_run:
        print(f"[book] executing {nb.relative_to(ROOT)} (profile {args.profile}) ...", flush=True)
        seconds, error = execute(nb, args.profile, params)
        status = "ok" if error is None else "FAILED"
        print(f"[book]   {status} in {seconds:.1f} s", flush=True)
        if error:
            failures[nb.stem] = error
            print(f"[book]   {error}", flush=True)

    write_status_page([(notebook_title(nb), nb) for nb in notebooks], failures)

    site_error = None
    if not args.no_site:
        print("[book] building the site (jupyter-book build --all -W -n --keep-going) ...", flush=True)
        jb = Path(sys.executable).with_name("jupyter-book")
        proc = subprocess.run(
            [str(jb), "build", "--all", "-W", "-n", "--keep-going", str(STAGE)],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            site_error = proc.stdout[-6000:] + proc.stderr[-6000:]
        else:
            if HTML.exists():
                shutil.rmtree(HTML)
            shutil.move(str(STAGE / "_build" / "html"), str(HTML))
            print(f"[book] site: {HTML / 'index.html'}", flush=True)

    if failures or site_error:
        print("\n[book] BUILD FAILED", file=sys.stderr)
        for stem, error in failures.items():
            print(f"  chapter {stem}: {error}", file=sys.stderr)
        if site_error:
            print(f"  site build (jupyter-book) failed:\n{site_error}", file=sys.stderr)
        return 1
    print(f"[book] all {len(to_run)} executed chapters passed their reproduction checks", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
