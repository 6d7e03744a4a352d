#!/usr/bin/env python
"""Each chapter's run time in the quick and the paper profile.

    python benchmarks/chapter_times.py                 # print the table
    python benchmarks/chapter_times.py --record        # also store this machine's measurements
    python benchmarks/chapter_times.py --run quick --only pc-saddles/figure-6-matrix-completion --record
    python benchmarks/chapter_times.py --run quick --only overparameterized --record   # a whole part

Chapters are named by id (their path under ``book/`` without the extension). Measurements come
from the reproduction records the chapters write when the book builds them
(``_build/claims/<id>.json`` for the quick profile, ``_build/claims-paper/<id>.json`` for
the paper profile; the time is that of the chapter's computations, kernel start-up excluded).
``--run PROFILE`` first executes the chapters (``scripts/build_book.py --no-site``).
``--record`` merges the measurements into ``benchmarks/chapter_times.json`` together with the
machine, thread count, load and commit they were taken on; the book's reproduction-status page
shows that file. Chapters whose paper profile is too long to run on this machine class carry a
*projection* there instead (``"projected": true``), with the measured per-iteration time it was
computed from (``"basis"``); the table marks those with ``~``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from bookbuild import toc  # noqa: E402  (the book's one toc walker)
from bookbuild.status import duration  # noqa: E402
from reprokit.profiles import PROFILES  # noqa: E402

STORE = ROOT / "benchmarks" / "chapter_times.json"


def claims_dir(profile: str) -> Path:
    return ROOT / "_build" / ("claims" if profile == "quick" else f"claims-{profile}")


def chapters() -> list[str]:
    """Chapter ids in the order of ``_toc.yml``."""
    return [c.id for c in toc.read(ROOT).chapters]


def measured(profile: str) -> dict[str, dict]:
    """The records of the latest build of ``profile``: ``{id: {seconds, passed, claims}}``."""
    out = {}
    folder = claims_dir(profile)
    for cid in chapters():
        path = folder / f"{cid}.json"
        if not path.exists():
            continue
        rec = json.loads(path.read_text())
        if rec.get("profile") != profile:
            continue
        claims = rec.get("claims", [])
        out[cid] = dict(seconds=float(rec["seconds"]), passed=sum(c["passed"] for c in claims), claims=len(claims),
                              environment=rec.get("environment", {}),
                              data=sorted({d.get("name", "?") for d in rec.get("data", [])}),
                              coverage=rec.get("coverage", []))
    return out


def machine() -> dict:
    """The machine and commit of a recording (the thread count and load of the run itself come from
    the chapter's record, see :func:`record`)."""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), platform.processor())
    except OSError:
        cpu = platform.processor()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return dict(cpu=cpu, cores=os.cpu_count(), commit=commit, date=_dt.date.today().isoformat())


def load_store() -> dict:
    if STORE.exists():
        return json.loads(STORE.read_text())
    return {"about": "chapter run times in seconds; written by benchmarks/chapter_times.py --record", "chapters": {}}


def record(store: dict, profile: str, found: dict[str, dict]) -> None:
    info = machine()
    for stem, m in found.items():
        previous = store["chapters"].get(stem, {}).get(profile, {})
        entry = dict(seconds=round(m["seconds"], 1), claims=f"{m['passed']}/{m['claims']}", projected=False, **info)
        env = m.get("environment") or {}  # what the run itself saw (None: a record without it)
        entry.update(torch_threads=env.get("torch_threads"), load_1min=env.get("load_1min"), gpu=env.get("gpu"))
        entry["data"] = m.get("data", [])
        # how the recorded run covered each panel (run / reduced / projected / not run): the status
        # page's coverage table shows it per row for the paper profile
        entry["coverage"] = [dict(item=r["item"], status=r["status"]) for r in m.get("coverage", [])]
        if previous.get("note") and previous.get("seconds") == entry["seconds"]:
            entry["note"] = previous["note"]  # re-recording the same run keeps what was said about it
        store["chapters"].setdefault(stem, {})[profile] = entry
    STORE.write_text(json.dumps(store, indent=1) + "\n")


def table(store: dict) -> str:
    now = {p: measured(p) for p in PROFILES}
    rows = [("chapter", "quick (latest build)", "quick (recorded)", "paper (latest build)", "paper (recorded)")]
    for stem in chapters():
        rec = store["chapters"].get(stem, {})
        cells = [stem]
        for p in PROFILES:
            m = now[p].get(stem)
            cells.append("-" if m is None else f"{duration(m['seconds'])} ({m['passed']}/{m['claims']})")
            r = rec.get(p)
            cells.append("-" if r is None else ("~" if r.get("projected") else "") + duration(r.get("seconds")))
        rows.append(tuple(cells))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  ~ {stem}: {r['paper']['basis']}" for stem, r in store["chapters"].items()
             if r.get("paper", {}).get("projected")]
    return "\n".join(lines + (["", "projections (paper profile not run to completion here):"] + notes if notes else []))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", choices=PROFILES, help="execute the chapters in this profile first (no site)")
    p.add_argument("--only", nargs="+", metavar="ID", help="with --run / --record: only these chapters (ids or part folders)")
    p.add_argument("--record", action="store_true", help=f"store the latest builds' times in {STORE.relative_to(ROOT)}")
    p.add_argument("--project", nargs=3, metavar=("ID", "SECONDS", "BASIS"),
                   help="store a paper-profile projection for a chapter too long to run here: SECONDS and the "
                   "measurement it is computed from (BASIS, one sentence)")
    args = p.parse_args(argv)
    if args.only and not (args.run or args.record):
        p.error("--only needs --run or --record")
    if args.run:
        cmd = [sys.executable, str(ROOT / "scripts" / "build_book.py"), "--profile", args.run, "--no-site",
               "--stage", f"times-{args.run}"]
        if args.only:
            cmd += ["--only", *args.only]
        rc = subprocess.run(cmd, cwd=ROOT).returncode
        if rc:
            print(f"[times] some chapters failed (exit {rc}); their times are not recorded", file=sys.stderr)
    store = load_store()
    if args.record:
        for profile in PROFILES if not args.run else (args.run,):
            found = {s: m for s, m in measured(profile).items() if m["passed"] == m["claims"]}
            if args.only:
                chosen = {c.id for c in toc.select(toc.read(ROOT).chapters, args.only)}
                found = {s: m for s, m in found.items() if s in chosen}
            record(store, profile, found)
    if args.project:
        stem, seconds, basis = args.project
        if stem not in chapters():
            p.error(f"--project: no chapter {stem!r}; chapters are {chapters()}")
        entry = dict(seconds=round(float(seconds), 1), projected=True, basis=basis, **machine())
        entry["data"] = []
        store["chapters"].setdefault(stem, {})["paper"] = entry
        STORE.write_text(json.dumps(store, indent=1) + "\n")
    print(table(store))
    return 0


if __name__ == "__main__":
    sys.exit(main())
