"""Reading training curves: when a curve first falls below a level, when a run escapes, and
statistics over seeds.

One primitive, :func:`first_below`, answers "after how many iterations is this curve first below
that level?"; the book's one definition of **escape** is built on it (:func:`escape_iteration`):
a run escapes a saddle at the first iteration whose training loss is below half of the loss at
its start (the initialisation, or the checkpoint it started from). Plateau levels that are not
half the start (Figures 5 and 12 read the loss against 0.095 and 0.085) use :func:`first_below`
directly and are called "leaving the plateau", not escape.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["censored_escape", "escape_iteration", "first_below", "seed_bands"]


def first_below(values, level: float, *, start: int = 0) -> int | None:
    """Iterations from index ``start`` until ``values`` is first strictly below ``level``: the
    smallest ``j >= 0`` with ``values[start + j] < level``, or ``None`` if there is none.

    ``values`` is a 1-D sequence (a loss per iteration); NaN never counts as below.
    """
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"values must be a 1-D sequence; received shape {arr.shape}")
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or not 0 <= start <= arr.size:
        raise ValueError(f"start must be an int index in [0, {arr.size}]; received {start!r}")
    hits = np.flatnonzero(arr[start:] < level)
    return int(hits[0]) if hits.size else None


def escape_iteration(losses, fraction: float = 0.5, *, start: int = 0, reference: float | None = None) -> int | None:
    """The book's escape time: iterations from ``start`` until the loss is first below ``fraction``
    (default one half) of ``reference`` (default ``losses[start]``, the loss where the run started);
    ``None`` if the run never gets there within its length.

    With ``start = 0`` this is the number of updates after which a run from the initialisation has
    left the plateau of the initial saddle; with ``start`` at a checkpoint's iteration it measures
    the continuation of a run from that checkpoint (Figure 6).
    """
    values = np.asarray(losses, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"losses must be a non-empty 1-D sequence; received shape {values.shape}")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1); received {fraction}")
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or not 0 <= start < values.size:
        raise ValueError(f"start must be an index of losses, in [0, {values.size}); received {start!r}")
    ref = values[start] if reference is None else float(reference)
    return first_below(values, fraction * ref, start=start)


def seed_bands(runs: Sequence[Sequence[float]]) -> dict[str, np.ndarray]:
    """Median, minimum and maximum over seeds of per-iteration values, over the iterations every
    run has (the shortest run's length, as the authors truncated Figure 7).

    Returns ``{"median", "min", "max"}``, arrays of that length. Unlike mean +- std, these are
    values some seed actually took: the band never leaves the range of the data (no negative
    losses or gradient norms) and one seed that stays on a plateau shows as the band's edge, not
    as a shifted mean.
    """
    if len(runs) == 0:
        raise ValueError("runs must contain at least one sequence")
    n = min(len(r) for r in runs)
    if n == 0:
        raise ValueError("every run must hold at least one value")
    stacked = np.stack([np.asarray(r[:n], dtype=float) for r in runs])  # (n_runs, n)
    return {"median": np.median(stacked, axis=0), "min": stacked.min(axis=0), "max": stacked.max(axis=0)}


def censored_escape(losses, fraction: float = 0.5) -> tuple[int, bool]:
    """``(iteration, escaped)``: :func:`escape_iteration` from the start of the run, or the run's
    length with ``escaped = False`` if it never escaped (a censored value, a lower bound on the
    escape time)."""
    it = escape_iteration(losses, fraction)
    return (len(losses), False) if it is None else (it, True)
