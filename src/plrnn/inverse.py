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
        good = np.all(np.isfinite(cand), axis=1)
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

    def stages(self) -> dict[int, int]:
        """Stage counts so far: ``{1: n1, 2: n2, 3: n3, 4: n4, 5: failures}``."""
        return {s: int(self.stage_counts[s]) for s in range(1, 6)}


def inverse_step(model: PiecewiseAffineMap, y: Any, *, tol: float = 1e-9) -> InverseResult:
    """One inverse step of targets ``y (..., M)`` with a fresh :class:`InverseStep`."""
    return InverseStep(model, tol=tol)(y)
