"""The paper's 2-D piecewise-linear maps (Appendix H.1): a border-collision family as PLRNNs.

The map (paper, Appendix H.1, after Gardini et al.)::

    F(X) = A_l X + B  if x <= 0,     A_r X + B  if x >= 0,
    A_s = [[tau_s, c], [-delta_s, d]],   B = (h1, h2),

is continuous on the switching line ``x = 0``. As a PLRNN (:class:`plrnn.models.PLRNN`):
``A = A_l``, ``W = [[tau_r - tau_l, 0], [delta_l - delta_r, 0]]``, ``h = B``; only the first unit
switches (the second unit's ReLU column of ``W`` is zero). With ``c = 1, d = 0, h2 = 0`` it is
the 2-D border-collision normal form with ``mu = h1``.

:data:`PARAMETER_SETS` holds the parameter sets of the paper's Figs. 1, 3 and 5, in the order
``(tau_r, delta_r, tau_l, delta_l, c, d, h2, h1)``. Figure 3B's two sets are named by their
parameters: ``3B1`` (``tau_l = -0.3``) has the period-3 saddle, ``3B2`` (``tau_l = 0.9``) the
period-4 saddle.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .models import PLRNN

__all__ = ["BorderCollisionParams", "PARAMETER_SETS", "border_collision", "paper_map", "piece_matrices",
           "closed_form_inverse", "image_of_border"]


class BorderCollisionParams(NamedTuple):
    tau_r: float
    delta_r: float
    tau_l: float
    delta_l: float
    c: float
    d: float
    h2: float
    h1: float


PARAMETER_SETS: dict[str, BorderCollisionParams] = {
    "3A1": BorderCollisionParams(1.2, 1.8, -0.3, 0.9, -1.5, 1.0, -0.1, -0.13),
    "3A2": BorderCollisionParams(1.26, 0.71, -0.39, -0.91, -0.44, 0.56, 0.62, -0.28),
    "3B1": BorderCollisionParams(-1.85, 0.9, -0.3, 0.9, 1.0, 0.0, 0.0, -1.0),
    "3B2": BorderCollisionParams(-1.85, 0.9, 0.9, 0.9, 1.0, 0.0, 0.0, -1.0),
    "5": BorderCollisionParams(1.5, 0.75, -1.77, 0.9, 0.6, 0.15, -0.4, -0.7),
}


def piece_matrices(params: BorderCollisionParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(A_l, A_r, B)`` of the border-collision map."""
    p = BorderCollisionParams(*params)
    A_l = np.array([[p.tau_l, p.c], [-p.delta_l, p.d]], dtype=np.float64)
    A_r = np.array([[p.tau_r, p.c], [-p.delta_r, p.d]], dtype=np.float64)
    return A_l, A_r, np.array([p.h1, p.h2], dtype=np.float64)


def border_collision(tau_r: float, delta_r: float, tau_l: float, delta_l: float, c: float = 1.0, d: float = 0.0,
                     h2: float = 0.0, h1: float = 0.0) -> PLRNN:
    """The border-collision map as a PLRNN: ``A = A_l``, ``W = [[tau_r - tau_l, 0], [delta_l - delta_r, 0]]``,
    ``h = (h1, h2)``."""
    params = BorderCollisionParams(*(float(v) for v in (tau_r, delta_r, tau_l, delta_l, c, d, h2, h1)))
    A_l, A_r, B = piece_matrices(params)
    W = np.zeros((2, 2))
    W[:, 0] = A_r[:, 0] - A_l[:, 0]
    return PLRNN(A_l, W, B)


def paper_map(name: str) -> PLRNN:
    """The PLRNN of one of the paper's parameter sets: ``"3A1"``, ``"3A2"``, ``"3B1"``, ``"3B2"``, ``"5"``."""
    if not isinstance(name, str) or name not in PARAMETER_SETS:
        raise ValueError(f"unknown parameter set {name!r}; expected one of {list(PARAMETER_SETS)}")
    return border_collision(*PARAMETER_SETS[name])


def closed_form_inverse(params: BorderCollisionParams, Y: np.ndarray) -> np.ndarray:
    """The exact inverse of an invertible border-collision map (``det A_l``, ``det A_r`` of one sign):
    with ``l(Y) = e_1^T A_l^{-1} (Y - B)``, ``F^{-1}(Y) = A_l^{-1}(Y - B)`` if ``l(Y) <= 0``, else
    ``A_r^{-1}(Y - B)``. ``Y (n, 2)`` -> ``(n, 2)``."""
    A_l, A_r, B = piece_matrices(params)
    det_l, det_r = np.linalg.det(A_l), np.linalg.det(A_r)
    if det_l * det_r <= 0:
        raise ValueError(f"the closed-form inverse needs det A_l and det A_r of one sign; received {det_l:.4g}, {det_r:.4g}")
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
    xl = np.linalg.solve(A_l, (Y - B).T).T
    xr = np.linalg.solve(A_r, (Y - B).T).T
    return np.where((xl[:, 0] <= 0)[:, None], xl, xr)


def image_of_border(params: BorderCollisionParams) -> tuple[np.ndarray, np.ndarray]:
    """The image of the switching line ``x = 0``: both pieces map ``(0, t)`` to ``B + t (c, d)``; returns
    a point ``B`` and the direction ``(c, d)`` of that line. For an orientation-reversing fold (``det A_l``
    and ``det A_r`` of opposite signs) the targets on one side have two preimages, on the other none."""
    p = BorderCollisionParams(*params)
    return np.array([p.h1, p.h2], dtype=np.float64), np.array([p.c, p.d], dtype=np.float64)
