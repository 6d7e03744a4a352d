"""The Reproduction status page, generated from the chapters' records and the stored run times.

The page opens with a table of parts (chapters, claims passed, run time in both profiles), then
has one section per part: a table of its chapters, then each chapter's claims with the measured
value, the target, where the target comes from, and the data used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reprokit.records import format_value
from .toc import Toc

ORIGIN_LABELS = {"paper": "paper", "derived": "derived", "book": "book check", None: "-"}


def duration(seconds: float | None) -> str:
    """``12 s``, ``3.4 min`` or ``2.1 h``."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def load_times(path: Path) -> dict[str, dict[str, Any]]:
    """``{chapter id: {profile: entry}}`` from ``benchmarks/chapter_times.json`` (empty if absent)."""
    return json.loads(Path(path).read_text()).get("chapters", {}) if Path(path).exists() else {}


def _escape(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _time_cell(entry: dict | None) -> str:
    if entry is None:
        return "not measured"
    extra = []
    if entry.get("torch_threads"):
        extra.append(f"{entry['torch_threads']} thread" + ("s" if entry["torch_threads"] > 1 else ""))
    if entry.get("gpu"):
        extra.append(entry["gpu"])
    return ("~" if entry.get("projected") else "") + duration(entry.get("seconds")) + (f" ({', '.join(extra)})" if extra else "")


def _part_time(times: dict, ids: list[str], profile: str) -> str:
    entries = [times.get(i, {}).get(profile) for i in ids]
    known = [e for e in entries if e]
    if not known:
        return "not measured"
    total = sum(e["seconds"] for e in known)
    text = ("~" if any(e.get("projected") for e in known) else "") + duration(total)
    if len(known) < len(ids):
        text += f" ({len(known)} of {len(ids)} chapters measured)"
    return text


def render(toc: Toc, records: dict[str, dict | None], failures: dict[str, str], times: dict[str, dict],
           cached: set[str] = frozenset(), build: dict[str, Any] | None = None) -> str:
    """The page as MyST markdown. ``records``: ``{chapter id: record or None}``; ``failures``:
    ``{chapter id: error}`` of this build; ``times``: :func:`load_times`; ``cached``: ids whose
    record was reused from the chapter cache; ``build``: wall and summed times of this build."""
    parts = [p for p in toc.parts if p.chapters]
    n_pass = n_claims = 0
    part_rows = ["| part | chapters | claims passed | run time, quick | run time, paper |", "|---|---|---|---|---|"]
    sections: list[str] = []
    for part in parts:
        ids = [c.id for c in part.chapters]
        p_pass = p_claims = 0
        failed_chapters = 0
        rows = ["| chapter | covers | profile | claims passed | run time (this build) |", "|---|---|---|---|---|"]
        details: list[str] = []
        coverage: list[str] = []
        relaxed: list[str] = []
        for ch in part.chapters:
            rec = records.get(ch.id)
            title = rec["chapter"] if rec else ch.stem
            details += [f"### {title}", ""]
            if ch.id in failures:
                failed_chapters += 1
                details += [f"**Failed in this build:** `{_escape(failures[ch.id])}`", ""]
            if rec is None:
                rows.append(f"| {_escape(title)} | - | - | not run | - |")
                details += ["No record: this chapter has not been executed in this build.", ""]
                continue
            claims = rec.get("claims", [])
            passed = sum(c["passed"] for c in claims)
            p_pass += passed
            p_claims += len(claims)
            ok = passed == len(claims) and ch.id not in failures
            verdict = f"{passed} / {len(claims)}" + ("" if ok else " **FAIL**")
            when = f"{rec['seconds']:.1f} s" + (" (cached)" if ch.id in cached else "")
            covers = ", ".join(rec.get("covers", [])) or "-"
            rows.append(f"| {_escape(title)} | {_escape(covers)} | {rec['profile']} | {verdict} | {when} |")
            details += [f"Covers {covers}. Profile **{rec['profile']}**; run time {rec['seconds']:.1f} s"
                        + (" (reused from the chapter cache: nothing it depends on changed)" if ch.id in cached else "")
                        + f"; {passed} of {len(claims)} claims pass.", ""]
            if rec.get("data"):
                details += ["Data:", ""]
                for d in rec["data"]:
                    n = f", {d['n_samples']} samples" if d.get("n_samples") is not None else ""
                    extra = f" ({d['note']})" if d.get("note") else ""
                    details.append(f"- {_escape(d['name'])}: {_escape(d['source'])}{n}{_escape(extra)}")
                details.append("")
            if rec.get("notes"):
                details += ["How this run differs from the paper:", ""] + [f"- {_escape(n)}" for n in rec["notes"]] + [""]
            for row in rec.get("coverage", []):
                coverage.append(f"| {_escape(row['item'])} | {row['status']} | "
                                f"{_paper_state(times.get(ch.id, {}).get('paper'), row)} | {_escape(row['why']) or '-'} "
                                f"| {_escape(title)} |")
            details += ["| claim | statement | measured | target | origin | result |", "|---|---|---|---|---|---|"]
            for c in claims:
                mark = " (relaxed)" if c.get("relaxed") else ""
                details.append(
                    f"| `{c['id']}` | {_escape(c['statement'])} | {_escape(format_value(c['value']))} | {_escape(c['target'])}{mark} "
                    f"| {ORIGIN_LABELS.get(c.get('origin'), c.get('origin'))} | {'pass' if c['passed'] else '**FAIL**'} |")
                if c.get("relaxed"):
                    relaxed.append(f"- `{c['id']}` ({_escape(title)}): target {_escape(c['target'])}. {_escape(c['relaxed'])}")
            details.append("")
        n_pass += p_pass
        n_claims += p_claims
        label = f"status-{part.folder or _anchor(part.caption)}"
        part_rows.append(f"| {{ref}}`{_escape(part.caption)} <{label}>` | {len(ids)} | {p_pass} / {p_claims}"
                         + (f" ({failed_chapters} chapter(s) failed)" if failed_chapters else "")
                         + f" | {_part_time(times, ids, 'quick')} | {_part_time(times, ids, 'paper')} |")
        cov = []
        if coverage:
            cov = ["**Coverage of the paper.** For each panel or result: how this build ran it (run: the paper's "
                   "settings; reduced: smaller sizes, fewer iterations or a data subset; projected: a time "
                   "extrapolated, not a finished run; not run), whether the paper profile has been run to completion "
                   "(with its measured time), and why.", "",
                   "| paper item | this build | paper profile | why | chapter |", "|---|---|---|---|---|", *coverage, ""]
        rel = (["**Relaxed or replaced targets** (each chapter explains the reason where it happens):", "", *relaxed, ""]
               if relaxed else [])
        sections += [f"({label})=", f"## {part.caption}", "", *rows, "", *cov, *rel, *_times_table(part, times, records),
                     *details]
    head = [
        "# Reproduction status",
        "",
        "Generated by the book build from the records each chapter writes in its final cell. A chapter passes "
        "only when every claim meets its target; a failed claim also fails the build. Each claim says where its "
        "target comes from: **paper** (a claim the paper makes), **derived** (a value derived or computed "
        "independently from the paper's equations for this reproduction) or **book check** (a check the book adds).",
        "",
        f"**{n_pass} of {n_claims} claims pass** across {sum(len(p.chapters) for p in parts)} chapters.",
        "",
        *part_rows,
        "",
        "Run times per part are sums over its chapters of the measured times stored with the book "
        "(`benchmarks/chapter_times.json`); a time marked ~ includes a projection from measured per-iteration "
        "times for a paper-profile run too long for the machine it was measured on.",
        "",
    ]
    if build:
        head += [f"This build executed {build['executed']} chapter(s) and reused {build['cached']} from the chapter "
                 f"cache, in {duration(build['wall'])} of wall time with {build['jobs']} worker(s); the executed "
                 f"chapters' own run times add up to {duration(build['sum'])}.", ""]
    return "\n".join(head + sections) + "\n"


def _paper_state(entry: dict | None, row: dict) -> str:
    """The paper profile's coverage of one panel: what the recorded paper run says of this item
    (``chapter_times.py --record`` stores it), else what can be told from the chapter's entry (a
    projection, a measured run) and this build ("not run" here is not run in the paper profile either,
    unless the recorded paper run says otherwise)."""
    if entry is None:
        return "not run" if row["status"] == "not run" else "not measured"
    if entry.get("projected"):
        return "projected" if row["status"] != "not run" else "not run"
    recorded = {r["item"]: r["status"] for r in entry.get("coverage", [])}
    status = recorded.get(row["item"])
    if status is None and row["status"] == "not run":
        return "not run"
    if status is None:
        return f"measured ({duration(entry.get('seconds'))})"
    return status if status == "not run" else f"{status} ({duration(entry.get('seconds'))})"


def _anchor(caption: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "-", caption.lower()).strip("-")


def _times_table(part, times: dict, records: dict) -> list[str]:
    ids = [c.id for c in part.chapters]
    if not any(i in times for i in ids):
        return []
    lines = ["Run times in both profiles, as measured and stored with the book (the table above has this build's "
             "own times, which depend on the machine and its load):", "",
             "| chapter | quick | paper |", "|---|---|---|"]
    notes = []
    for c in part.chapters:
        rec = times.get(c.id, {})
        title = (records.get(c.id) or {}).get("chapter", c.stem)
        lines.append(f"| {_escape(title)} | {_time_cell(rec.get('quick'))} | {_time_cell(rec.get('paper'))} |")
        for profile in ("quick", "paper"):
            e = rec.get(profile)
            if e and e.get("projected"):
                notes.append(f"- {_escape(title)} ({profile}): projected: {_escape(e.get('basis', ''))}")
            if e and e.get("note"):
                notes.append(f"- {_escape(title)} ({profile}): {_escape(e['note'])}")
    return lines + ([""] + notes if notes else []) + [""]
