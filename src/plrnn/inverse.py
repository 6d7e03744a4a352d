"""The inverse step (the paper's Algorithm 2): a preimage ``x`` with ``F(x) = y``.

In region ``d`` the candidate is ``x* = J_d^{-1} (y - c_d)``; it is valid when the forward map
returns the target, ``|F(x*) - y| <= tol (1 + |y|)`` (float64, ``tol = 1e-9``; the authors'
prototype compared 2 significant digits with arbitrary-precision inverses). Regions are tried in
the authors' order (a cascade):

1. the region of the target ``y`` itself;
2. the region of the candidate ``x*`` of stage 1;
3. every region of a *pool* of regions where earlier inverse steps succeeded;
4. every region at Hamming distance 1, 2, ... from the region of ``y`` (switching units only);
5. none worked: the step fails (``x = NaN``).

Every accepted region joins the pool. :class:`InverseStep` keeps the pool and counts the stage at
which each point succeeded (:attr:`InverseStep.stage_counts`), and records the condition number of
the Jacobian used. Vectorised over targets.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .models import PiecewiseAffineMap, check_states
from .regions import in_region

__all__ = ["InverseStep", "InverseResult", "inverse_step"]


@dataclass
class InverseResult:
    """``x (n, M)`` preimages (NaN where the step failed), ``stage (n,)`` in 1..5 (5 = failed),
    ``code (n,)`` region id used (-1 if failed), ``cond (n,)`` condition number of that ``J_d``."""

    x: np.ndarray
    stage: np.ndarray
    code: np.ndarray
    cond: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        return self.stage < 5


class InverseStep:
    """The inverse-step cascade of the paper's Algorithm 2 with a persistent pool of regions.

    ``model``; ``tol`` (relative forward-check tolerance, 1e-9); ``max_hamming`` (largest Hamming
    distance tried in stage 4; default: all switching units). Call it on targets ``y (n, M)``.
    """

    VECTOR_UNITS = 10  # stage 4 tries all 2^s regions at once up to this many switching units

    def __init__(self, model: PiecewiseAffineMap, *, tol: float = 1e-9, max_hamming: int | None = None):
        if not isinstance(model, PiecewiseAffineMap):
            raise TypeError(f"model must be a plrnn model; received {type(model).__name__}")
        self.model = model
        self.tol = float(tol)
        s = int(model.switching_units.size)
        self.max_hamming = s if max_hamming is None else min(int(max_hamming), s)
        self.pool: list[int] = []
        self.stage_counts = np.zeros(6, dtype=np.int64)  # index 1..5 used
        self._inv: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}

    def _piece(self, code: int) -> tuple[np.ndarray, np.ndarray, float] | None:
        if code not in self._inv:
            J, c = self.model.affine_of_code(np.int64(code))
            cond = np.linalg.cond(J)
            if not np.isfinite(cond) or cond > 1e14:
                self._inv[code] = None
            else:
                self._inv[code] = (np.linalg.inv(J), c, float(cond))
        return self._inv[code]

    def _try(self, y: np.ndarray, codes: np.ndarray, out: InverseResult, idx: np.ndarray, stage: int) -> np.ndarray:
        """Try region ``codes[i]`` for targets ``y[idx[i]]``; fill ``out`` where accepted; return the
        accepted mask over ``idx`` and the candidates (for stage 2)."""
        model = self.model
        cand = np.full((idx.size, model.M), np.nan)
        conds = np.full(idx.size, np.inf)
        for code in np.unique(codes):
            piece = self._piece(int(code))
            if piece is None:
                continue
            sel = codes == code
            Jinv, c, cond = piece
            cand[sel] = (y[idx[sel]] - c) @ Jinv.T
            conds[sel] = cond
        # a valid preimage lies in (the closure of) the region whose branch produced it: test that
        # cheaply first, with a loose tolerance, and run the forward check only on those candidates
        good = np.all(np.isfinite(cand), axis=1)
        good[good] = in_region(model, cand[good], codes[good], 1e-6)
        err = np.full(idx.size, np.inf)
        if np.any(good):
            err[good] = np.linalg.norm(model.step(cand[good]) - y[idx[good]], axis=1)
        ok = err <= self.tol * (1 + np.linalg.norm(y[idx], axis=1))
        acc = idx[ok]
        out.x[acc] = cand[ok]
        out.stage[acc] = stage
        out.code[acc] = codes[ok]
        out.cond[acc] = conds[ok]
        for code in np.unique(codes[ok]):
            if int(code) not in self.pool:
                self.pool.append(int(code))
        return ok, cand

    def __call__(self, y: Any) -> InverseResult:
        model = self.model
        y = check_states(y, model.M, "y")
        shape = y.shape
        y = y.reshape(-1, model.M)
        n = y.shape[0]
        out = InverseResult(x=np.full((n, model.M), np.nan), stage=np.full(n, 5, dtype=np.int64),
                            code=np.full(n, -1, dtype=np.int64), cond=np.full(n, np.nan))
        idx = np.arange(n)
        # stage 1: the target's own region
        code_y = model.region_id(y)
        ok, cand = self._try(y, code_y[idx], out, idx, 1)
        # stage 2: the region of the stage-1 candidate
        rest = idx[~ok]
        if rest.size:
            c2 = cand[~ok]
            finite = np.all(np.isfinite(c2), axis=1)
            codes = np.where(finite, model.region_id(np.where(finite[:, None], c2, 0.0)), code_y[rest])
            ok2, _ = self._try(y, codes, out, rest, 2)
            rest = rest[~ok2]
        # stage 3: the pool of regions that worked before
        for code in list(self.pool):
            if not rest.size:
                break
            ok3, _ = self._try(y, np.full(rest.size, code, dtype=np.int64), out, rest, 3)
            rest = rest[~ok3]
        # stage 4: Hamming distance 1, 2, ... from the target's region
        s = int(model.switching_units.size)
        if rest.size and s <= self.VECTOR_UNITS:
            self._stage4_all_regions(y, code_y, out, rest)
        else:
            for dist in range(1, self.max_hamming + 1):
                for flips in itertools.combinations(range(s), dist):
                    if not rest.size:
                        break
                    mask = np.int64(sum(1 << f for f in flips))
                    ok4, _ = self._try(y, code_y[rest] ^ mask, out, rest, 4)
                    rest = rest[~ok4]
        np.add.at(self.stage_counts, out.stage, 1)
        out.x = out.x.reshape(shape)
        out.stage = out.stage.reshape(shape[:-1])
        out.code = out.code.reshape(shape[:-1])
        out.cond = out.cond.reshape(shape[:-1])
        return out

    def _mask_rank(self) -> np.ndarray:
        """Position of every flip mask in stage 4's order (Hamming distance 1, 2, ..., then
        ``itertools.combinations`` order); ``-1`` for the empty mask and masks beyond ``max_hamming``."""
        if not hasattr(self, "_rank"):
            s = int(self.model.switching_units.size)
            rank = np.full(1 << s, -1, dtype=np.int64)
            k = 0
            for dist in range(1, self.max_hamming + 1):
                for flips in itertools.combinations(range(s), dist):
                    rank[sum(1 << f for f in flips)] = k
                    k += 1
            self._rank = rank
        return self._rank

    def _stage4_all_regions(self, y: np.ndarray, code_y: np.ndarray, out: InverseResult, rest: np.ndarray) -> None:
        """Stage 4 for few switching units (``2^s`` regions, ``s <= VECTOR_UNITS``): every region's
        candidate for every remaining target at once, and per target the valid region that comes
        first in the cascade's order (:meth:`_mask_rank`) -- the same choice as trying the flips one
        by one, without a pass over all targets per flip."""
        model = self.model
        rank = self._mask_rank()
        best = np.full(rest.size, np.iinfo(np.int64).max)
        bx = np.full((rest.size, model.M), np.nan)
        bcode = np.full(rest.size, -1, dtype=np.int64)
        bcond = np.full(rest.size, np.nan)
        yr = y[rest]
        tol = self.tol * (1 + np.linalg.norm(yr, axis=1))
        for code in range(model.n_regions):
            piece = self._piece(code)
            if piece is None:
                continue
            rk = rank[code_y[rest] ^ code]
            rows = np.flatnonzero((rk >= 0) & (rk < best))
            if rows.size == 0:
                continue
            Jinv, c, cond = piece
            cand = (yr[rows] - c) @ Jinv.T
            inside = in_region(model, cand, np.full(rows.size, code), 1e-6)
            rows, cand = rows[inside], cand[inside]
            ok = np.linalg.norm(model.step(cand) - yr[rows], axis=1) <= tol[rows]
            rows, cand = rows[ok], cand[ok]
            best[rows], bx[rows], bcode[rows], bcond[rows] = rk[rows], cand, code, cond
        got = bcode >= 0
        acc = rest[got]
        out.x[acc], out.stage[acc], out.code[acc], out.cond[acc] = bx[got], 4, bcode[got], bcond[got]
        for code in np.unique(bcode[got]):
            if int(code) not in self.pool:
                self.pool.append(int(code))

    def stages(self) -> dict[int, int]:
        """Stage counts so far: ``{1: n1, 2: n2, 3: n3, 4: n4, 5: failures}``."""
        return {s: int(self.stage_counts[s]) for s in range(1, 6)}


def inverse_step(model: PiecewiseAffineMap, y: Any, *, tol: float = 1e-9) -> InverseResult:
    """One inverse step of targets ``y (..., M)`` with a fresh :class:`InverseStep`."""
    return InverseStep(model, tol=tol)(y)
