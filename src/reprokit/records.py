"""Reproduction records: each chapter's final cell states the paper's claims and checks them.

A chapter creates a :class:`Reproduction` at its start with its **id** (its path under ``book/``
without the extension, e.g. ``"pc-saddles/figure-5-escape-nonlinear"``) and what of its paper it
covers, in the paper's own numbering (``covers=["figure 5", "figure 11"]``). It registers the data
it used, adds one :meth:`Reproduction.check` per claim, and calls :meth:`Reproduction.finish` in its
last cell. That writes ``<claims dir>/<id>.json``::

    {"id", "part", "chapter", "covers", "profile", "seconds", "environment", "data": [provenance...],
     "claims": [{"id", "statement", "value", "target", "passed", "origin"}]}

and raises AssertionError naming every failed claim, so a failed reproduction fails the notebook
(and the book build) instead of only being printed.

Every claim says where its target comes from (``origin``):

* ``"paper"``: a claim the paper itself makes (a theorem, a number in its text or figure);
* ``"derived"``: a number derived or verified for this reproduction from the paper's equations
  (a closed form, a value computed independently in float64);
* ``"book"``: a check the book adds (a consistency check, a limit, a comparison the paper does
  not make).

A claim whose target differs from the one the paper (or the value derived from it) gives, because it
does not hold as stated or cannot be checked here, says so with ``relaxed="why"``; the status page
lists every such claim.

A chapter also says, for each panel or result it covers, how this run relates to the paper's
setting (:meth:`Reproduction.coverage`): ``"run"`` (the paper's settings), ``"reduced"`` (smaller
sizes, fewer iterations, a data subset), ``"projected"`` (a time extrapolated, not a finished run)
or ``"not run"`` (e.g. no data offline), with the reason.

The claims directory is ``$REPROKIT_CLAIMS_DIR`` if set (the book build sets it to
``_build/claims``), otherwise ``_build/claims`` under the current directory.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any

from .profiles import PROFILES

ORIGINS = ("paper", "derived", "book")
COVERAGE = ("run", "reduced", "projected", "not run")
ENV_CLAIMS_DIR = "REPROKIT_CLAIMS_DIR"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)+$")


def environment() -> dict[str, Any]:
    """Where a chapter ran: torch version and threads, the GPU if torch sees one, CPU count and
    the 1-minute load average at the end of the run (run times depend on all of them)."""
    import torch

    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return {
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_1min": load,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def claims_dir() -> Path:
    return Path(os.environ.get(ENV_CLAIMS_DIR, Path.cwd() / "_build" / "claims"))


def record_path(chapter_id: str, folder: Path | None = None) -> Path:
    """``<claims dir>/<id>.json`` (the id's part folder becomes a sub-folder)."""
    return (claims_dir() if folder is None else Path(folder)) / f"{chapter_id}.json"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    return str(value)


class Reproduction:
    """Collects a chapter's claims; see the module docstring.

    ``chapter_id``: the chapter's id, ``<part folder>/<notebook stem>``; ``chapter``: its title;
    ``profile``: ``"quick"`` or ``"paper"``; ``covers``: a non-empty list of what of the paper the
    chapter reproduces, in the paper's numbering (``["theorem 2"]``, ``["figure 5", "figure 11"]``).
    """

    def __init__(self, chapter_id: str, chapter: str, profile: str, *, covers: list[str]):
        if not isinstance(chapter_id, str) or not _ID.match(chapter_id):
            raise ValueError(
                "chapter_id must be the chapter's path under book/ without the extension, "
                f"'<part folder>/<notebook stem>' in lower case (e.g. 'pc-saddles/theorem-2-origin-strict-saddle'); "
                f"received {chapter_id!r}"
            )
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {list(PROFILES)}")
        if (isinstance(covers, str) or not isinstance(covers, (list, tuple)) or not covers
                or not all(isinstance(c, str) and c.strip() for c in covers)):
            raise ValueError(
                "covers must be a non-empty list of what of the paper the chapter reproduces, in the paper's "
                f"numbering (e.g. ['figure 5', 'figure 11']); received {covers!r}"
            )
        self.id, self.chapter, self.profile = chapter_id, chapter, profile
        self.covers = [c.strip() for c in covers]
        self.started = time.perf_counter()
        self.data: list[dict[str, Any]] = []
        self.claims: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.coverage_rows: list[dict[str, str]] = []

    @property
    def part(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def stem(self) -> str:
        return self.id.rsplit("/", 1)[-1]

    def add_data(self, provenance: dict[str, Any]) -> None:
        """Record a data source (a dataset's ``provenance`` or a dict with at least ``name`` and ``source``)."""
        if not isinstance(provenance, dict) or "name" not in provenance or "source" not in provenance:
            raise ValueError(f"provenance must be a dict with 'name' and 'source'; received {provenance!r}")
        provenance = _jsonable(provenance)
        if provenance not in self.data:
            self.data.append(provenance)

    def note(self, text: str) -> None:
        """A sentence for the status page about how this run differs from the paper (reduced sizes,
        a relaxed target, a substitute dataset)."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"a note must be a non-empty string; received {text!r}")
        if text not in self.notes:
            self.notes.append(text.strip())

    def coverage(self, item: str, status: str, why: str = "") -> None:
        """How this run covers one panel or result of the paper (``item``, in the paper's numbering,
        e.g. ``"figure 5, Fashion-MNIST row"``): ``status`` one of :data:`COVERAGE`, and ``why``
        (required unless ``"run"``: what was reduced, projected or not run, and the reason)."""
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"a coverage item must name a panel or result of the paper; received {item!r}")
        if status not in COVERAGE:
            raise ValueError(f"unknown coverage status {status!r} for {item!r}; expected one of {list(COVERAGE)}")
        if status != "run" and not (isinstance(why, str) and why.strip()):
            raise ValueError(f"coverage {status!r} of {item!r} needs a reason (why)")
        self.coverage_rows.append(dict(item=item.strip(), status=status, why=why.strip()))

    def check(self, claim_id: str, statement: str, value: Any, target: str, passed: bool,
              origin: str | None = None, relaxed: str | None = None) -> bool:
        """Record one claim: its measured ``value``, the ``target`` it must meet, whether it did, where
        the target comes from (``origin``: one of :data:`ORIGINS`) and, if the target was relaxed or
        replaced relative to the paper's, why (``relaxed``)."""
        if any(c["id"] == claim_id for c in self.claims):
            raise ValueError(f"claim id {claim_id!r} is used twice in {self.id}")
        if origin is not None and origin not in ORIGINS:
            raise ValueError(f"unknown claim origin {origin!r} for {claim_id!r}; expected one of {list(ORIGINS)}")
        if relaxed is not None and not (isinstance(relaxed, str) and relaxed.strip()):
            raise ValueError(f"relaxed must say why the target of {claim_id!r} was relaxed; received {relaxed!r}")
        self.claims.append({"id": claim_id, "statement": statement, "value": _jsonable(value), "target": target,
                            "passed": bool(passed), "origin": origin, "relaxed": relaxed})
        return bool(passed)

    def check_below(self, claim_id: str, statement: str, value: float, bound: float, origin: str | None = None,
                    relaxed: str | None = None) -> bool:
        """Claim ``value < bound`` (a NaN value fails)."""
        value = float(value)
        return self.check(claim_id, statement, value, f"< {bound:.3g}", math.isfinite(value) and value < bound, origin,
                          relaxed)

    def check_above(self, claim_id: str, statement: str, value: float, bound: float, origin: str | None = None,
                    relaxed: str | None = None) -> bool:
        """Claim ``value > bound`` (a NaN value fails)."""
        value = float(value)
        return self.check(claim_id, statement, value, f"> {bound:.3g}", math.isfinite(value) and value > bound, origin,
                          relaxed)

    def check_close(self, claim_id: str, statement: str, value: float, expected: float, tol: float,
                    origin: str | None = None, relaxed: str | None = None) -> bool:
        """Claim ``|value - expected| <= tol`` (a NaN value fails)."""
        value = float(value)
        ok = math.isfinite(value) and abs(value - expected) <= tol
        return self.check(claim_id, statement, value, f"{expected:.6g} ± {tol:.2g}", ok, origin, relaxed)

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "part": self.part,
            "chapter": self.chapter,
            "covers": self.covers,
            "profile": self.profile,
            "seconds": round(time.perf_counter() - self.started, 2),
            "environment": environment(),
            "data": self.data,
            "notes": self.notes,
            "coverage": self.coverage_rows,
            "claims": self.claims,
        }

    def finish(self) -> dict[str, Any]:
        """Write the record and fail loudly if any claim failed or none was checked."""
        record = self.record()
        out = record_path(self.id)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(json.dumps(record, indent=2))
        tmp.replace(out)
        if not self.claims:
            raise AssertionError(f"{self.id}: no claim was checked")
        failed = [c for c in self.claims if not c["passed"]]
        if failed:
            lines = "\n".join(f"  {c['id']}: {c['statement']} -- measured {c['value']}, target {c['target']}" for c in failed)
            raise AssertionError(f"{self.id}: {len(failed)} of {len(self.claims)} claims failed:\n{lines}")
        return record

    def summary(self) -> str:
        """A plain-text table of the claims, for the chapter's last output."""
        rows = [f"{'claim':<24} {'measured':>14}  {'target':<16} {'origin':<8} ok"]
        for c in self.claims:
            rows.append(f"{c['id']:<24} {format_value(c['value']):>14}  {c['target']:<16} {c['origin'] or '-':<8} "
                        f"{'yes' if c['passed'] else 'NO'}")
        return "\n".join(rows)


def format_value(value: Any, digits: int = 4) -> str:
    """A measured value as a reader wants it: numbers with ``digits`` significant digits, a list of
    numbers as ``a, b, c`` (at most 8 shown), a dict as ``key: value`` pairs."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}".replace(",", " ") if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if value == 0:
            return "0"
        if 1e-3 <= abs(value) < 1e5:
            return f"{value:.{digits}g}"
        return f"{value:.{max(digits - 2, 1)}e}"
    if isinstance(value, (list, tuple)):
        shown = [format_value(v, digits) for v in value[:8]]
        return ", ".join(shown) + (f", ... ({len(value)} values)" if len(value) > 8 else "")
    if isinstance(value, dict):
        return "; ".join(f"{k}: {format_value(v, digits)}" for k, v in list(value.items())[:8]) + (
            "; ..." if len(value) > 8 else "")
    return "-" if value is None else str(value)
