"""ReLU RNNs as piecewise-affine maps: the PLRNN, the ALRNN and the shallow PLRNN.

All three are written in one **general form** (the form every analysis function of this package
uses)::

    F(z) = L z + U relu(G z + g) + b,        z (M,), L (M, M), U (M, n), G (n, M), g (n,), b (M,)

with ``n`` rectified units. The **activation pattern** (region) of a state is ``d = [G z + g > 0]``
(``n`` bits; a unit exactly on its border counts as off, which is harmless because ``F`` is
continuous). On the region of pattern ``d`` the map is affine, ``F(z) = J_d z + c_d`` with

    J_d = L + U diag(d) G,        c_d = b + U (d * g).

* :class:`PLRNN` (the paper's Eq. 1): ``z_t = A z_{t-1} + W relu(z_{t-1}) + h``; ``L = A``,
  ``U = W``, ``G = I``, ``g = 0``, ``b = h``. ``A`` is usually diagonal and ``W`` off-diagonal,
  but any ``A (M, M)`` works (the 2-D border-collision maps of the paper's Figs. 1, 3 and 5 need a
  full ``A``); a vector ``A (M,)`` means ``diag(A)``.
* :class:`ALRNN` (almost-linear RNN): only the last ``P`` of the ``M`` units are rectified,
  ``z_t = diag(A) z_{t-1} + W phi~(z_{t-1}) + h``; ``L = diag(A) + W[:, :M-P] I[:M-P]``,
  ``U = W[:, M-P:]``, ``G = I[M-P:]``.
* :class:`ShallowPLRNN` (shPLRNN): ``z_t = A * z_{t-1} + W1 relu(W2 z_{t-1} + h2) + h1`` with
  ``W1 (M, H)``, ``W2 (H, M)``; ``L = diag(A)``, ``U = W1``, ``G = W2``, ``g = h2``, ``b = h1``.
  Its regions are the cells of an arrangement of ``H`` hyperplanes.

Everything is numpy float64 and vectorised over leading batch axes: ``step(z)`` takes
``z (..., M)``. A trained model (numpy weights, e.g. converted from torch with
``.detach().double().numpy()``) is built with the same constructors, so it drops into the same
analysis functions (cycles, manifolds, basins, ...).

Units whose column of ``U`` is zero never change the map (the second unit of the paper's 2-D maps):
:attr:`PiecewiseAffineMap.switching_units` lists the others, and :meth:`region_id` encodes a
state's region by those units only, so two states share a region id exactly when the map has
the same affine piece at both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PiecewiseAffineMap", "PLRNN", "ALRNN", "ShallowPLRNN", "as_matrix", "as_vector", "check_states"]


def _as_float_array(name: str, value: Any) -> np.ndarray:
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a numeric array; received {type(value).__name__}")
    if hasattr(value, "detach"):  # a torch tensor: convert explicitly, never silently keep float32
        value = value.detach().cpu().double().numpy()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric array; received {type(value).__name__} ({err})") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; received an array with NaN or inf entries")
    return arr


def as_matrix(name: str, value: Any, shape: tuple[int, int]) -> np.ndarray:
    """``value`` as a float64 array of exactly ``shape``, or a ValueError naming both shapes."""
    arr = _as_float_array(name, value)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}; received shape {arr.shape}")
    return arr.copy()


def as_vector(name: str, value: Any, size: int) -> np.ndarray:
    """``value`` as a float64 vector of length ``size``."""
    arr = _as_float_array(name, value)
    if arr.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},); received shape {arr.shape}")
    return arr.copy()


def _square_or_diagonal(name: str, value: Any) -> np.ndarray:
    """A ``(M, M)`` matrix, or a vector ``(M,)`` meaning ``diag(value)``."""
    arr = _as_float_array(name, value)
    if arr.ndim == 1 and arr.size > 0:
        return np.diag(arr)
    if arr.ndim == 2 and arr.shape[0] == arr.shape[1] and arr.size > 0:
        return arr.copy()
    raise ValueError(f"{name} must be a square matrix (M, M) or a vector (M,) meaning diag({name}); "
                     f"received shape {arr.shape}")


def check_states(z: Any, M: int, name: str = "z") -> np.ndarray:
    """``z`` as a float64 array of shape ``(..., M)``; raises naming the received shape."""
    arr = _as_float_array(name, z)
    if arr.ndim == 0 or arr.shape[-1] != M:
        raise ValueError(f"{name} must have shape (..., {M}) (states of the {M}-dimensional model); "
                         f"received shape {arr.shape}")
    return arr


class PiecewiseAffineMap:
    """``F(z) = L z + U relu(G z + g) + b``: the general form of the three models (module docstring).

    Attributes ``L (M, M)``, ``U (M, n)``, ``G (n, M)``, ``g (n,)``, ``b (M,)``; ``M`` (state
    dimension) and ``n_units`` (rectified units = pattern length: ``M`` for the PLRNN, ``P`` for the
    ALRNN, ``H`` for the shPLRNN).
    """

    kind = "piecewise-affine map"

    def __init__(self, L: Any, U: Any, G: Any, g: Any, b: Any):
        L = _square_or_diagonal("L", L)
        M = L.shape[0]
        U = _as_float_array("U", U)
        if U.ndim != 2 or U.shape[0] != M:
            raise ValueError(f"U must have shape ({M}, n) (n rectified units); received shape {U.shape}")
        n = U.shape[1]
        self.L, self.U = L, U.copy()
        self.G = as_matrix("G", G, (n, M))
        self.g = as_vector("g", g, n)
        self.b = as_vector("b", b, M)
        self.M, self.n_units = M, n
        active = np.any(self.U != 0, axis=0) & np.any(self.G != 0, axis=1)
        self.switching_units = np.flatnonzero(active)  # units whose on/off state changes the map

    # ---- the map -----------------------------------------------------------------------------
    def preactivation(self, z: Any) -> np.ndarray:
        """``G z + g`` of the rectified units, ``(..., n_units)``."""
        z = check_states(z, self.M)
        return z @ self.G.T + self.g

    def step(self, z: Any) -> np.ndarray:
        """One step ``F(z)``, ``z (..., M)`` -> ``(..., M)``."""
        z = check_states(z, self.M)
        return z @ self.L.T + np.maximum(z @ self.G.T + self.g, 0.0) @ self.U.T + self.b

    def iterate(self, z: Any, n_steps: int) -> np.ndarray:
        """The orbit ``z, F(z), ..., F^n(z)``: ``(n_steps + 1, ..., M)``."""
        z = check_states(z, self.M)
        out = np.empty((n_steps + 1,) + z.shape)
        out[0] = z
        for t in range(n_steps):
            out[t + 1] = self.step(out[t])
        return out

    def pattern(self, z: Any) -> np.ndarray:
        """Activation pattern ``G z + g > 0`` (bool, ``(..., n_units)``): the ReLU region of ``z``."""
        return self.preactivation(z) > 0

    def region_id(self, z: Any) -> np.ndarray:
        """Integer id of the region of ``z`` over the switching units (``(...,)``, int64):
        ``sum_j d_{u_j} 2^j`` for the switching units ``u_0 < u_1 < ...``."""
        return self.code(self.pattern(z))

    def code(self, pattern: Any) -> np.ndarray:
        """Region id of a pattern ``(..., n_units)`` (see :meth:`region_id`)."""
        pattern = np.asarray(pattern, dtype=bool)
        if pattern.ndim == 0 or pattern.shape[-1] != self.n_units:
            raise ValueError(f"a pattern must have shape (..., {self.n_units}); received shape {pattern.shape}")
        units = self.switching_units
        if units.size > 62:
            raise ValueError(f"region ids need at most 62 switching units; this model has {units.size}")
        weights = np.left_shift(np.int64(1), np.arange(units.size, dtype=np.int64))
        return (pattern[..., units].astype(np.int64) * weights).sum(-1)

    def pattern_of_code(self, code: Any) -> np.ndarray:
        """The pattern ``(..., n_units)`` of a region id (non-switching units off)."""
        code = np.asarray(code, dtype=np.int64)
        units = self.switching_units
        bits = (code[..., None] >> np.arange(units.size, dtype=np.int64)) & 1
        out = np.zeros(code.shape + (self.n_units,), dtype=bool)
        out[..., units] = bits.astype(bool)
        return out

    @property
    def n_regions(self) -> int:
        """Number of distinct affine pieces addressable by region ids (``2**len(switching_units)``;
        for the shPLRNN not all of them are realised)."""
        return 1 << int(self.switching_units.size)

    def affine(self, pattern: Any) -> tuple[np.ndarray, np.ndarray]:
        """The affine piece ``(J_d, c_d)`` of a pattern ``d (..., n_units)`` (bool or 0/1):
        ``J_d = L + U diag(d) G`` ``(..., M, M)``, ``c_d = b + U (d * g)`` ``(..., M)``."""
        d = np.asarray(pattern)
        if d.ndim == 0 or d.shape[-1] != self.n_units:
            raise ValueError(f"a pattern must have shape (..., {self.n_units}); received shape {d.shape}")
        d = d.astype(np.float64)
        J = self.L + np.einsum("mi,...i,in->...mn", self.U, d, self.G)
        c = self.b + (d * self.g) @ self.U.T
        return J, c

    def affine_of_code(self, code: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(J, c)`` of region ids ``(...,)``."""
        return self.affine(self.pattern_of_code(code))

    def jacobian(self, z: Any) -> np.ndarray:
        """Jacobian ``dF/dz = J_{d(z)}`` at ``z (..., M)`` -> ``(..., M, M)`` (on a border: the
        piece with the unit off)."""
        return self.affine(self.pattern(z))[0]

    # ---- helpers -------------------------------------------------------------------------------
    def with_bias(self, b: Any) -> "PiecewiseAffineMap":
        """The same map with another offset ``b (M,)`` (a bifurcation scan over ``h``)."""
        return PiecewiseAffineMap(self.L, self.U, self.G, self.g, b)

    def general(self) -> "PiecewiseAffineMap":
        """This model in the general form (a plain :class:`PiecewiseAffineMap`)."""
        return PiecewiseAffineMap(self.L, self.U, self.G, self.g, self.b)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(M={self.M}, rectified units={self.n_units}, switching={self.switching_units.size})"


class PLRNN(PiecewiseAffineMap):
    """PLRNN ``z_t = A z_{t-1} + W relu(z_{t-1}) + h`` (paper Eq. 1).

    ``A``: ``(M, M)`` (full allowed) or ``(M,)`` meaning ``diag(A)``; ``W (M, M)``; ``h (M,)``.
    All ``M`` units are rectified: ``pattern(z) = z > 0``, ``J_d = A + W diag(d)``, ``c_d = h``.
    """

    kind = "PLRNN"

    def __init__(self, A: Any, W: Any, h: Any):
        A = _square_or_diagonal("A", A)
        M = A.shape[0]
        W = as_matrix("W", W, (M, M))
        h = as_vector("h", h, M)
        super().__init__(A, W, np.eye(M), np.zeros(M), h)
        self.A, self.W, self.h = A, W, h

    def with_bias(self, b: Any) -> "PLRNN":
        return PLRNN(self.A, self.W, b)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"A": self.A.copy(), "W": self.W.copy(), "h": self.h.copy()}


class ALRNN(PiecewiseAffineMap):
    """ALRNN ``z_t = diag(A) z_{t-1} + W phi~(z_{t-1}) + h``: only the last ``P`` units rectified.

    ``A``: ``(M,)`` (or a diagonal ``(M, M)``); ``W (M, M)`` (full, the lab's code keeps its
    diagonal); ``h (M,)``; ``P`` in ``0..M``. Pattern: the ``P`` bits ``z_{M-P+1..M} > 0``;
    ``J_d = diag(A) + W diag(1, .., 1, d)``.
    """

    kind = "ALRNN"

    def __init__(self, A: Any, W: Any, h: Any, P: int):
        A = _square_or_diagonal("A", A)
        M = A.shape[0]
        if not np.array_equal(A, np.diag(np.diag(A))):
            raise ValueError("the ALRNN's A must be diagonal (a vector (M,) or a diagonal matrix); received a "
                             "matrix with off-diagonal entries (use PLRNN for a full A)")
        W = as_matrix("W", W, (M, M))
        h = as_vector("h", h, M)
        if isinstance(P, bool) or not isinstance(P, (int, np.integer)) or not 0 <= P <= M:
            raise ValueError(f"P (rectified units) must be an int in 0..{M}; received {P!r}")
        P = int(P)
        lin = M - P
        L = A.copy()
        L[:, :lin] += W[:, :lin]
        G = np.eye(M)[lin:]
        super().__init__(L, W[:, lin:], G, np.zeros(P), h)
        self.A, self.W, self.h, self.P = np.diag(A).copy(), W, h, P

    def with_bias(self, b: Any) -> "ALRNN":
        return ALRNN(self.A, self.W, b, self.P)

    def arrays(self) -> dict[str, Any]:
        return {"A": self.A.copy(), "W": self.W.copy(), "h": self.h.copy(), "P": self.P}


class ShallowPLRNN(PiecewiseAffineMap):
    """Shallow PLRNN ``z_t = A * z_{t-1} + W1 relu(W2 z_{t-1} + h2) + h1``.

    ``A``: ``(M,)`` (or diagonal ``(M, M)``); ``W1 (M, H)``, ``W2 (H, M)``, ``h1 (M,)``, ``h2 (H,)``.
    Pattern: ``W2 z + h2 > 0`` (``H`` bits); ``J_d = diag(A) + W1 diag(d) W2``,
    ``c_d = h1 + W1 (d * h2)``.
    """

    kind = "shPLRNN"

    def __init__(self, A: Any, W1: Any, W2: Any, h1: Any, h2: Any):
        A = _square_or_diagonal("A", A)
        M = A.shape[0]
        W1 = _as_float_array("W1", W1)
        if W1.ndim != 2 or W1.shape[0] != M:
            raise ValueError(f"W1 must have shape ({M}, H); received shape {W1.shape}")
        H = W1.shape[1]
        W2 = as_matrix("W2", W2, (H, M))
        h1 = as_vector("h1", h1, M)
        h2 = as_vector("h2", h2, H)
        super().__init__(A, W1, W2, h2, h1)
        self.A, self.W1, self.W2, self.h1, self.h2, self.H = np.diag(A).copy(), W1.copy(), W2, h1, h2, H

    def with_bias(self, b: Any) -> "ShallowPLRNN":
        return ShallowPLRNN(self.A, self.W1, self.W2, b, self.h2)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"A": self.A.copy(), "W1": self.W1.copy(), "W2": self.W2.copy(), "h1": self.h1.copy(),
                "h2": self.h2.copy()}
