#!/usr/bin/env python
"""Execute the book's chapters with papermill (in parallel, re-executing only what changed), write
the Reproduction status page, build the site.

    python scripts/build_book.py [--profile quick|paper] [--only ID|PART ...] [-p NAME VALUE ...]
                                 [--jobs N] [--no-cache] [--no-site] [--stage NAME]

Sources (``_config.yml``, ``_toc.yml``, ``book/``, ``_mathjax/``) are copied to ``_build/book``;
each notebook listed in ``_toc.yml`` is executed there by papermill with the ``profile``
parameter (plus any ``-p NAME VALUE``), so executed notebooks never land in the working tree.

* **Ids.** A chapter's id is its path under ``book/`` without the extension
  (``pc-saddles/figure-5-escape-nonlinear``). Its last cell writes ``_build/claims/<id>.json`` and
  raises if a claim fails. ``--only`` takes ids, part folders (``--only overparameterized``) or
  unambiguous notebook stems.
* **Parallel.** Chapters run in ``--jobs`` worker processes (default: one per CPU), longest first
  (by the times in ``benchmarks/chapter_times.json``); each chapter gets ``cpus // jobs`` BLAS/torch
  threads (one, by default).
* **Cache.** A chapter whose key (:mod:`bookbuild.chaptercache`: its notebook, the source of the
  book's packages it imports, the pinned requirements, the profile and parameters) matches a stored
  execution that passed is not executed: its executed notebook and record are reused from
  ``_build/cache``. ``--no-cache`` executes everything. A fresh clone has no cache.
* **Profiles.** A non-quick profile uses ``_build/claims-<profile>``, ``_build/book-<profile>`` and
  ``_build/html-<profile>``, so it never disturbs the quick build. Chapters with a ``results_dir``
  parameter store finished runs under ``_build/results/<id>/<profile>`` (keyed by configuration and
  code, see :mod:`reprokit.runcache`), which survives rebuilds.

The site is built with ``jupyter-book build --all -W -n --keep-going``. Exit status 1, with the
failing chapters named, if any notebook raised (an error or a failed reproduction check), wrote
no record, or the site build reported a warning. ``_build/build-times-<profile>.json`` records the
wall time, the summed chapter times and what was executed or reused.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from bookbuild import chaptercache, status, toc as tocmod  # noqa: E402
from reprokit.profiles import PROFILES  # noqa: E402
from reprokit.records import ENV_CLAIMS_DIR  # noqa: E402  (where a chapter's last cell writes its record)

BUILD = ROOT / "_build"
TIMES = ROOT / "benchmarks" / "chapter_times.json"  # both profiles' run times
RESULTS = BUILD / "results"  # finished runs of long chapters, kept across builds
CACHE = BUILD / "cache" / "chapters"
KERNEL = "reprobook"
STATUS_ID = "reproduction-status"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def migrate_results(chapters) -> None:
    """Stored runs of builds from before chapter ids had a part folder lived in
    ``_build/results/<stem>``; move them to ``_build/results/<id>`` (no recomputation)."""
    for ch in chapters:
        old, new = RESULTS / ch.stem, RESULTS / ch.id
        if old != new and old.is_dir() and not new.exists():
            new.parent.mkdir(parents=True, exist_ok=True)
            old.rename(new)
            print(f"[book] stored runs moved: {old.relative_to(ROOT)} -> {new.relative_to(ROOT)}", flush=True)


def stage_lock(stage: Path):
    """Hold an exclusive lock on ``stage`` for this build: a second build of the same staging folder
    (the same profile without ``--stage``) waits for the first instead of restaging the folder under
    its running chapters. Returns the open lock file (the lock lasts as long as it stays open)."""
    import fcntl

    BUILD.mkdir(parents=True, exist_ok=True)
    handle = open(BUILD / f".{stage.name}.lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"[book] another build is using {stage.relative_to(ROOT)}; waiting for it to finish "
              f"(or give this one its own folder with --stage NAME)", flush=True)
        fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def stage_sources(stage: Path, keep_executed: list[str] = ()) -> None:
    """Copy the book's sources into ``stage``. Executed notebooks of the chapters in
    ``keep_executed`` (ids) that are already staged are kept, so that building a few chapters with
    ``--only`` does not throw away the chapters executed by an earlier build (a paper build done in
    pieces)."""
    if not (ROOT / "_mathjax" / "mathjax" / "tex-mml-chtml.js").exists():
        raise SystemExit("MathJax is not bundled yet (_mathjax/ is missing): run `bash scripts/setup.sh` first")
    kept = {}
    for cid in keep_executed:
        path = stage / "book" / f"{cid}.ipynb"
        if path.exists():
            kept[cid] = path.read_bytes()
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, stage / name)
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "_build")
    shutil.copytree(ROOT / "book", stage / "book", ignore=ignore)
    shutil.copytree(ROOT / "_mathjax", stage / "_mathjax")
    for cid, content in kept.items():
        (stage / "book" / f"{cid}.ipynb").write_bytes(content)


def hide_injected_parameters(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(nb, path)


def has_parameter(notebook: Path, name: str) -> bool:
    nb = nbformat.read(notebook, as_version=4)
    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    return cell is not None and any(line.split("=")[0].strip() == name for line in cell.source.splitlines())


def chapter_params(entry, profile: str, params: dict) -> dict:
    params = {"profile": profile, **params}
    if profile != "quick" and "results_dir" not in params and has_parameter(entry.path, "results_dir"):
        # finished runs of a long profile are kept outside the staging folder, which every build
        # recreates, so an interrupted run resumes on the next build
        params["results_dir"] = str(RESULTS / entry.id / profile)
    return params


def execute(notebook: str, out: str, record: str, params: dict, threads: int) -> tuple[float, str | None]:
    """Run one chapter in this (worker) process; return (seconds, error message or None)."""
    import papermill

    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    out_p, record_p = Path(out), Path(record)
    record_p.unlink(missing_ok=True)
    started = time.perf_counter()
    error = None
    try:
        papermill.execute_notebook(notebook, out, parameters=params, kernel_name=KERNEL, cwd=str(out_p.parent),
                                   progress_bar=False, log_output=False)
    except papermill.PapermillExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}"
    except Exception as exc:  # kernel died, missing kernel, bad parameters...
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    if out_p.exists():
        hide_injected_parameters(out_p)
    if error is None:
        if not record_p.exists():
            error = f"the notebook ran but wrote no reproduction record {record_p}"
        else:
            rec = json.loads(record_p.read_text())
            if rec.get("profile") != params["profile"]:
                error = f"the reproduction record {record_p.name} is not for profile {params['profile']!r}"
    return seconds, error


def expected_seconds(times: dict, cid: str, profile: str) -> float:
    entry = times.get(cid, {}).get(profile) or times.get(cid, {}).get("quick") or {}
    return float(entry.get("seconds", 60.0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick", choices=PROFILES)
    parser.add_argument("--only", nargs="+", default=None, metavar="ID",
                        help="execute only these chapters (ids, part folders or unambiguous stems)")
    parser.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="extra papermill parameter (VALUE parsed as YAML), for every executed chapter")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="chapters executed at once (default: CPUs)")
    parser.add_argument("--no-cache", action="store_true", help="execute every selected chapter, even if unchanged")
    parser.add_argument("--no-site", action="store_true", help="execute the chapters but do not build the site")
    parser.add_argument("--stage", default=None, metavar="NAME",
                        help="stage in _build/book-NAME (site in _build/html-NAME), so that concurrent builds do not "
                             "share a staging folder")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1; received {args.jobs}")
    params = {name: yaml.safe_load(value) for name, value in args.param}
    suffix = "" if args.profile == "quick" else f"-{args.profile}"
    claims = BUILD / f"claims{suffix}"
    stage = BUILD / (f"book-{args.stage}" if args.stage else f"book{suffix}")
    html = BUILD / (f"html-{args.stage}" if args.stage else f"html{suffix}")

    _lock = stage_lock(stage)  # held until the process ends
    book = tocmod.read(ROOT)
    chapters = book.chapters
    try:
        to_run = tocmod.select(chapters, args.only)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    if not args.only and claims.exists():
        shutil.rmtree(claims)  # a full build never shows stale records
    claims.mkdir(parents=True, exist_ok=True)
    stage_sources(stage, [c.id for c in chapters if c not in to_run] if args.only else [])
    migrate_results(chapters)
    times = status.load_times(TIMES)
    cache = chaptercache.ChapterCache(CACHE)
    packages = chaptercache.local_packages(ROOT / "src")

    started = time.perf_counter()
    failures: dict[str, str] = {}
    cached: set[str] = set()
    pending = []
    for ch in to_run:
        p = chapter_params(ch, args.profile, params)
        key, inputs = chaptercache.chapter_key(ch.path, args.profile, p, root=ROOT, packages=packages)
        out = stage / "book" / f"{ch.id}.ipynb"
        record = claims / f"{ch.id}.json"
        record.parent.mkdir(parents=True, exist_ok=True)
        hit = None if args.no_cache else cache.get(ch.id, key)
        if hit is not None:
            shutil.copy2(hit[0], out)
            shutil.copy2(hit[1], record)
            cached.add(ch.id)
            print(f"[book] {ch.id}: unchanged, reused from the chapter cache", flush=True)
        else:
            pending.append((ch, p, key, inputs, out, record))

    cpus = os.cpu_count() or 1
    jobs = max(1, min(args.jobs, len(pending) or 1))
    # one BLAS/torch thread per chapter when the workers fill the CPUs; an explicit OMP_NUM_THREADS wins
    threads = int(os.environ.get("OMP_NUM_THREADS") or max(1, cpus // jobs))
    env_claims = os.environ.get(ENV_CLAIMS_DIR)
    os.environ[ENV_CLAIMS_DIR] = str(claims)
    pending.sort(key=lambda item: -expected_seconds(times, item[0].id, args.profile))  # longest first
    executed_seconds = 0.0
    if pending:
        print(f"[book] executing {len(pending)} chapter(s) (profile {args.profile}) with {jobs} worker(s), "
              f"{threads} thread(s) each", flush=True)
    with cf.ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(execute, str(ch.path), str(out), str(record), p, threads): (ch, key, inputs, out, record)
                   for ch, p, key, inputs, out, record in pending}
        for fut in cf.as_completed(futures):
            ch, key, inputs, out, record = futures[fut]
            try:
                seconds, error = fut.result()
            except Exception as exc:  # the worker itself died
                seconds, error = 0.0, f"{type(exc).__name__}: {exc}"
            executed_seconds += seconds
            print(f"[book] {ch.id}: {'ok' if error is None else 'FAILED'} in {seconds:.1f} s", flush=True)
            if error:
                failures[ch.id] = error
                print(f"[book]   {error}", flush=True)
            else:
                cache.put(ch.id, key, out, record, inputs)
    if env_claims is None:
        os.environ.pop(ENV_CLAIMS_DIR, None)
    wall = time.perf_counter() - started
    summary = dict(profile=args.profile, jobs=jobs, threads=threads, executed=len(pending), cached=len(cached),
                   wall=round(wall, 1), sum=round(executed_seconds, 1),
                   executed_ids=sorted(c[0].id for c in pending), cached_ids=sorted(cached))
    (BUILD / f"build-times-{args.profile}.json").write_text(json.dumps(summary, indent=1))
    print(f"[book] chapters: {len(pending)} executed, {len(cached)} reused; wall {wall:.1f} s, "
          f"executed chapters' sum {executed_seconds:.1f} s", flush=True)

    records = {}
    for ch in chapters:
        path = claims / f"{ch.id}.json"
        records[ch.id] = json.loads(path.read_text()) if path.exists() else None
    page = status.render(book, records, failures, times, cached, summary)
    (stage / "book" / f"{STATUS_ID}.md").write_text(page)

    site_error = None
    if not args.no_site:
        print("[book] building the site (jupyter-book build --all -W -n --keep-going) ...", flush=True)
        jb = Path(sys.executable).with_name("jupyter-book")
        proc = subprocess.run([str(jb), "build", "--all", "-W", "-n", "--keep-going", str(stage)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            site_error = proc.stdout[-6000:] + proc.stderr[-6000:]
        else:
            if html.exists():
                shutil.rmtree(html)
            shutil.move(str(stage / "_build" / "html"), str(html))
            print(f"[book] site: {html / 'index.html'}", flush=True)

    if failures or site_error:
        print("\n[book] BUILD FAILED", file=sys.stderr)
        for cid, error in failures.items():
            print(f"  chapter {cid}: {error}", file=sys.stderr)
        if site_error:
            print(f"  site build (jupyter-book) failed:\n{site_error}", file=sys.stderr)
        return 1
    print(f"[book] all {len(to_run)} selected chapters passed their reproduction checks", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
