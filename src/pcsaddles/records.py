"""Reproduction records: each chapter's final cell states the paper's claims and checks them.

A chapter creates a :class:`Reproduction` at its start, registers the data it used, adds one
:meth:`Reproduction.check` per claim, and calls :meth:`Reproduction.finish` in its last cell. That
writes ``<claims dir>/<notebook-stem>.json``::

    {"chapter", "profile", "seconds", "environment", "data": [provenance...],
     "claims": [{"id", "statement", "value", "target", "passed"}]}

and raises AssertionError naming every failed claim, so a failed reproduction fails the
notebook (and the book build) instead of only being printed. The claims directory is
``$PCSADDLES_CLAIMS_DIR`` if set (the book build sets it to ``_build/claims``), otherwise
``_build/claims`` under the current directory.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from .profiles import PROFILES


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
    return Path(os.environ.get("PCSADDLES_CLAIMS_DIR", Path.cwd() / "_build" / "claims"))


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
    return str(value)


class Reproduction:
    """Collects a chapter's claims; see the module docstring."""

    def __init__(self, stem: str, chapter: str, profile: str):
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {list(PROFILES)}")
        self.stem, self.chapter, self.profile = stem, chapter, profile
        self.started = time.perf_counter()
        self.data: list[dict[str, Any]] = []
        self.claims: list[dict[str, Any]] = []

    def add_data(self, provenance: dict[str, Any]) -> None:
        """Record a data source (``Dataset.provenance`` or a dict with at least ``name`` and ``source``)."""
        if not isinstance(provenance, dict) or "name" not in provenance or "source" not in provenance:
            raise ValueError(f"provenance must be a dict with 'name' and 'source'; received {provenance!r}")
        if provenance not in self.data:
            self.data.append(_jsonable(provenance))

    def check(self, claim_id: str, statement: str, value: Any, target: str, passed: bool) -> bool:
        """Record one claim: its measured ``value``, the ``target`` it must meet, and whether it did."""
        if any(c["id"] == claim_id for c in self.claims):
            raise ValueError(f"claim id {claim_id!r} is used twice in {self.stem}")
        self.claims.append(
            {"id": claim_id, "statement": statement, "value": _jsonable(value), "target": target, "passed": bool(passed)}
        )
        return bool(passed)

    def check_below(self, claim_id: str, statement: str, value: float, bound: float) -> bool:
        """Claim ``value < bound`` (a NaN value fails)."""
        value = float(value)
        return self.check(claim_id, statement, value, f"< {bound:.3g}", math.isfinite(value) and value < bound)

    def check_above(self, claim_id: str, statement: str, value: float, bound: float) -> bool:
        """Claim ``value > bound`` (a NaN value fails)."""
        value = float(value)
        return self.check(claim_id, statement, value, f"> {bound:.3g}", math.isfinite(value) and value > bound)

    def record(self) -> dict[str, Any]:
        return {
            "chapter": self.chapter,
            "profile": self.profile,
            "seconds": round(time.perf_counter() - self.started, 2),
            "environment": environment(),
            "data": self.data,
            "claims": self.claims,
        }

    def finish(self) -> dict[str, Any]:
        """Write the record and fail loudly if any claim failed or none was checked."""
        record = self.record()
        out = claims_dir()
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / f".{self.stem}.json.tmp"
        tmp.write_text(json.dumps(record, indent=2))
        tmp.replace(out / f"{self.stem}.json")
        if not self.claims:
            raise AssertionError(f"{self.stem}: no claim was checked")
        failed = [c for c in self.claims if not c["passed"]]
        if failed:
            lines = "\n".join(f"  {c['id']}: {c['statement']} -- measured {c['value']}, target {c['target']}" for c in failed)
            raise AssertionError(f"{self.stem}: {len(failed)} of {len(self.claims)} claims failed:\n{lines}")
        return record

    def summary(self) -> str:
        """A plain-text table of the claims, for the chapter's last output."""
        rows = [f"{'claim':<22} {'measured':>14}  {'target':<12} ok"]
        for c in self.claims:
            v = c["value"]
            v = f"{v:.4g}" if isinstance(v, float) else str(v)
            rows.append(f"{c['id']:<22} {v:>14}  {c['target']:<12} {'yes' if c['passed'] else 'NO'}")
        return "\n".join(rows)
