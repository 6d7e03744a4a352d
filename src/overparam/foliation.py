"""The foliation by imbalance leaves and the target set (Fig. 2; Theorem 3's mechanism).

For ``k = 1``, ``N = 2`` and ``f = (1 - z)²`` the weight plane ``(w_2, w_1)`` is foliated by the
hyperbolas ``w_1² - w_2² = c`` (the leaves of the invariant of Def. 1); the flow never leaves its
leaf, and each leaf meets the target ``{w_1 w_2 = 1}`` in exactly two points,
``±(√a, 1/√a)`` with ``a = (c + √(c² + 4))/2``. For a chain of depth 3 the leaves
``{w_1² - w_2² = c_12, w_2² - w_3² = c_23}`` are curves and the target ``{w_1 w_2 w_3 = 1}`` a surface.
"""

from __future__ import annotations

import numpy as np

from reprokit.checks import check_finite_number


def leaf_target_points(c: float) -> np.ndarray:
    """The two points ``(w_1, w_2)`` where the leaf ``w_1² - w_2² = c`` meets ``w_1 w_2 = 1``, ``(2, 2)``."""
    c = check_finite_number("c", c)
    a = (c + np.sqrt(c * c + 4)) / 2
    p = np.array([np.sqrt(a), 1 / np.sqrt(a)])
    return np.stack([p, -p])


def leaf_curves(c: float, extent: float, n: int = 400) -> list[np.ndarray]:
    """Branches of the leaf ``w_1² - w_2² = c`` inside ``[-extent, extent]²`` as arrays ``(m, 2)``
    of ``(w_1, w_2)`` points (two branches; for ``c = 0`` the two diagonals)."""
    c = check_finite_number("c", c)
    t = np.linspace(-extent, extent, n)
    if c >= 0:  # w_1 = ±√(c + w_2²)
        branches = [np.stack([s * np.sqrt(c + t * t), t], axis=1) for s in (1, -1)]
    else:  # w_2 = ±√(w_1² - c)
        branches = [np.stack([t, s * np.sqrt(t * t - c)], axis=1) for s in (1, -1)]
    return [b[(np.abs(b) <= extent).all(axis=1)] for b in branches]


def chain3_leaf(c12: float, c23: float, w2: np.ndarray, signs: tuple[int, int] = (1, 1)) -> np.ndarray:
    """A branch of the depth-3 leaf ``{w_1² - w_2² = c12, w_2² - w_3² = c23}`` parametrised by
    ``w_2`` (where defined), ``(m, 3)`` points ``(w_1, w_2, w_3)``; ``signs`` of ``w_1`` and ``w_3``."""
    w2 = np.asarray(w2, dtype=np.float64)
    a, b = c12 + w2 * w2, w2 * w2 - c23
    ok = (a >= 0) & (b >= 0)
    return np.stack([signs[0] * np.sqrt(a[ok]), w2[ok], signs[1] * np.sqrt(b[ok])], axis=1)
