"""The origin theta = 0 in closed form: Hessians and spectra of the loss and of the PC energy.

Theorem 2 of the paper: the origin of a deep linear network (DLN) is a critical point of both
the MSE loss and the equilibrated energy ``F*`` (Eq. 5), but while the loss Hessian there is zero
for ``H >= 2`` hidden layers (Eq. 7: a non-strict saddle), the energy Hessian (Eq. 8) always has
a negative eigenvalue as soon as some target ``y_i != 0``: a strict saddle, for every depth.

Conventions (as in :mod:`pcsaddles.dln` and :mod:`reprokit.hessian`):

* ``widths = [d_0, d_1, ..., d_L]`` with ``d_0 = d_x``, ``d_L = d_y`` and ``H = L - 1 >= 1``
  hidden layers; ``W_l`` has shape ``(d_l, d_{l-1})``; a batch is ``x (N, d_x)``, ``y (N, d_y)``.
* Parameter vector ``theta = [vec_r(W_1), ..., vec_r(W_L)]`` of length ``p = sum_l d_l d_{l-1}``,
  each block flattened **row-major** (``W.reshape(-1)``; the paper's row-wise vec), so entry ``W_l[i, j]`` sits
  at ``offsets[l-1] + i d_{l-1} + j`` (see :func:`block_offsets`). With this order the last
  diagonal block ``d^2/dW_L^2`` of ``-1/2 tr(W_L^T Syy W_L)`` is exactly ``-kron(Syy, I)``.
* Data moments are uncentred and use ``1/N`` (as the paper's moments): ``Sxx = x^T x / N (d_x, d_x)``,
  ``Sxy = x^T y / N (d_x, d_y)``, ``Syy = y^T y / N (d_y, d_y)``.
* Loss and energy use the paper's ``1/(2N) sum_i`` normalisation. (The authors' Hessian notebook
  averages the loss over all ``N d_y`` entries, which divides the loss Hessian by ``d_y``.)

The H = 1 cross block. The paper writes it ``-Sxy (x) I_{n_1}`` (Eq. 7 and 8); with row-major
vec that Kronecker product equals the true block only up to a permutation of the ``W_1``
coordinates (same spectrum, different entries). Here it is built from the index formula
``d^2 / dW_1[a, b] dW_2[i, j] = -delta_{aj} Sxy[b, i]`` so the matrices match autodiff entry-wise.

Beyond the paper (derived for this book, and checked against autodiff in ``tests/test_origin.py``):
the Hessian at the origin of the energy after ``T`` Euler inference steps, with the activities
started at the feed-forward values of the point (zero at the origin) and held fixed in theta --
the authors' numerical procedure -- is :func:`unrolled_energy_hessian_origin`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

GOLDEN_RATIO = (1 + math.sqrt(5)) / 2


# --------------------------------------------------------------------------------------------
# data moments and bookkeeping


@dataclass(frozen=True)
class Moments:
    """Uncentred empirical second moments of a batch, all with ``1/N`` (the paper's tilde-Sigma).

    ``sxx (d_x, d_x)``, ``sxy (d_x, d_y)``, ``syy (d_y, d_y)`` and the batch size ``n``.
    """

    sxx: torch.Tensor
    sxy: torch.Tensor
    syy: torch.Tensor
    n: int

    @property
    def joint(self) -> torch.Tensor:
        """The moment matrix of the stacked vector ``(x, y)``: ``[[Sxx, Sxy], [Syx, Syy]]``, ``(d_x+d_y, d_x+d_y)``."""
        return torch.cat([torch.cat([self.sxx, self.sxy], 1), torch.cat([self.sxy.T, self.syy], 1)], 0)


def _check_batch(x: torch.Tensor, y: torch.Tensor) -> None:
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor) or t.ndim != 2 or not t.is_floating_point():
            got = f"{type(t).__name__} {tuple(t.shape)}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"{name} must be a 2-D float tensor (N, d); received {got}")
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"x and y must hold the same positive number of examples; received {x.shape[0]} and {y.shape[0]}")
    if x.dtype != y.dtype:
        raise TypeError(f"x and y must share one dtype; received {x.dtype} and {y.dtype}")


def data_moments(x: torch.Tensor, y: torch.Tensor) -> Moments:
    """``Sxx = x^T x / N``, ``Sxy = x^T y / N``, ``Syy = y^T y / N`` for ``x (N, d_x)``, ``y (N, d_y)``.

    Not mean-centred, as in the paper and the authors' notebooks (``X @ Y.T / N`` on raw batches).
    """
    _check_batch(x, y)
    n = x.shape[0]
    return Moments(x.T @ x / n, x.T @ y / n, y.T @ y / n, n)


def _check_widths(widths: Sequence[int], x: torch.Tensor, y: torch.Tensor) -> list[int]:
    widths = list(widths)
    if len(widths) < 3 or not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
        raise ValueError(
            "widths must be [d_x, n_1, ..., n_H, d_y] with at least one hidden layer (H >= 1) and positive ints; "
            f"received {widths}"
        )
    _check_batch(x, y)
    if widths[0] != x.shape[1] or widths[-1] != y.shape[1]:
        raise ValueError(
            f"widths {widths} need x of shape (N, {widths[0]}) and y of shape (N, {widths[-1]}); "
            f"received x {tuple(x.shape)} and y {tuple(y.shape)}"
        )
    return widths


def block_offsets(widths: Sequence[int]) -> list[int]:
    """Start of each ``vec_r(W_l)`` in theta: ``[0, d_1 d_0, d_1 d_0 + d_2 d_1, ..., p]`` (length ``L + 1``)."""
    widths = list(widths)
    out = [0]
    for d_in, d_out in zip(widths[:-1], widths[1:]):
        out.append(out[-1] + d_in * d_out)
    return out


def parameter_count(widths: Sequence[int]) -> int:
    """``p = sum_l d_l d_{l-1}``."""
    return block_offsets(widths)[-1]


def _cross_block_h1(sxy: torch.Tensor, n1: int) -> torch.Tensor:
    """The H = 1 block ``d^2 / dW_1 dW_2`` of ``-tr(W_2 W_1 Sxy)``, shape ``(n_1 d_x, d_y n_1)``.

    Entry ``(a d_x + b, i n_1 + j) = -delta_{aj} Sxy[b, i]`` (row-major vec of ``W_1 (n_1, d_x)``
    and ``W_2 (d_y, n_1)``).
    """
    d_x, d_y = sxy.shape
    eye = torch.eye(n1, dtype=sxy.dtype, device=sxy.device)
    return -torch.einsum("aj,bi->abij", eye, sxy).reshape(n1 * d_x, d_y * n1)


def _origin_matrix(widths: list[int], m: Moments, w1_coef: float, cross_coef: float, last_coef: float) -> torch.Tensor:
    """``w1_coef kron(I, Sxx)`` on ``W_1``, ``-last_coef kron(Syy, I)`` on ``W_L`` and, for H = 1,
    ``cross_coef`` times the index-formula cross block; zero elsewhere."""
    off = block_offsets(widths)
    p = off[-1]
    h = torch.zeros(p, p, dtype=m.syy.dtype, device=m.syy.device)
    n1, n_last = widths[1], widths[-2]
    if w1_coef:
        h[: off[1], : off[1]] += w1_coef * torch.kron(torch.eye(n1, dtype=h.dtype, device=h.device), m.sxx)
    if last_coef:
        h[off[-2]:, off[-2]:] -= last_coef * torch.kron(m.syy, torch.eye(n_last, dtype=h.dtype, device=h.device))
    if len(widths) == 3 and cross_coef:
        cross = cross_coef * _cross_block_h1(m.sxy, n1)
        h[: off[1], off[1]:] += cross
        h[off[1]:, : off[1]] += cross.T
    return h


# --------------------------------------------------------------------------------------------
# Hessians at the origin


def loss_hessian_origin(widths: Sequence[int], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Hessian of the MSE loss ``L = 1/(2N) sum_i ||y_i - W_{L:1} x_i||^2`` at ``theta = 0`` (Eq. 7).

    ``H = 1``: ``[[0, -Sxy (x) I_{n_1}], [-I_{n_1} (x) Syx, 0]]`` (the off-diagonal blocks built
    from the index formula, see the module docstring); its eigenvalues are ``+-sigma_k(Sxy)``, each
    ``n_1`` times, plus zeros -- a strict saddle. ``H >= 2``: the zero matrix (every term of the loss
    is of order >= 3 in theta) -- a non-strict saddle. Shape ``(p, p)``, dtype of ``x``.
    """
    widths = _check_widths(widths, x, y)
    m = data_moments(x, y)
    return _origin_matrix(widths, m, 0.0, 1.0, 0.0)


def energy_hessian_origin(widths: Sequence[int], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Hessian of the equilibrated energy ``F*`` (Eq. 5) at ``theta = 0`` (Eq. 8).

    ``H = 1``: ``[[0, -Sxy (x) I_{n_1}], [-I_{n_1} (x) Syx, -Syy (x) I_{n_1}]]``;
    ``H >= 2``: ``blockdiag(0, ..., 0, -Syy (x) I_{n_{L-1}})``. The ``W_L`` block comes from the
    second derivative of the rescaling ``S = I + W_L W_L^T + ...`` (A.3.3): to second order
    ``F* = 1/(2N) sum_i y_i^T (I - W_L W_L^T) y_i - tr(W_2 W_1 Sxy) [H = 1 only] + O(theta^3)``.
    Shape ``(p, p)``, row-major blocks ``W_1..W_L``, dtype of ``x``.
    """
    widths = _check_widths(widths, x, y)
    return _origin_matrix(widths, data_moments(x, y), 0.0, 1.0, 1.0)


def _decay(n_steps: int, dt: float) -> float:
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer; received {n_steps!r}")
    if not 0 < dt < 2:
        raise ValueError(f"dt must lie in (0, 2) for Euler inference at the origin to converge; received {dt}")
    return (1.0 - dt) ** (2 * int(n_steps))


def unrolled_energy_hessian_origin(
    widths: Sequence[int], x: torch.Tensor, y: torch.Tensor, n_steps: int, dt: float = 0.1
) -> torch.Tensor:
    """Hessian at ``theta = 0`` of the energy after ``n_steps`` Euler inference steps (derived here).

    The procedure of the authors' notebooks and of :func:`pcsaddles.pc.unrolled_energy`: the
    hidden activities start at the feed-forward values of the point (all zero at the origin), are
    held fixed in theta, and take ``T = n_steps`` steps ``z <- z - dt dF_i/dz``. To first order in
    theta the first hidden layer moves to ``c_T W_1 x`` (plus ``c_T W_2^T y`` when H = 1) and the
    last hidden layer to ``c_T W_L^T y``, with ``c_T = 1 - (1 - dt)^T``; expanding
    ``F = 1/(2N) sum ||e_l||^2`` to second order gives, with ``q = (1 - dt)^{2T}``,

    * ``H = 1``: ``[[q I (x) Sxx, -(1-q) C], [-(1-q) C^T, -(1-q) Syy (x) I]]`` (``C`` the cross
      block of Eq. 8);
    * ``H >= 2``: ``blockdiag(q I_{n_1} (x) Sxx, 0, ..., 0, -(1-q) Syy (x) I_{n_{L-1}})``.

    So ``T -> inf`` gives Eq. 8 and every entry converges like ``(1 - dt)^{2T}`` (``0.9^{2T}`` at
    ``dt = 0.1``: 1.5e-2 at T = 20, 2.7e-5 at T = 50, 5e-19 at T = 200). ``T = 0`` is **not** the
    loss Hessian: the frozen activities do not follow theta, so the energy at ``T = 0`` equals the
    loss in value but has Hessian ``blockdiag(I (x) Sxx, 0, ..., 0)``. The positive ``W_1`` block
    ``q I (x) Sxx`` is an artefact of finite inference; on data with a large ``lambda_max(Sxx)``
    (784-pixel MNIST: several hundred) it is visible at T = 50. Shape ``(p, p)``.
    """
    widths = _check_widths(widths, x, y)
    q = _decay(n_steps, dt)
    return _origin_matrix(widths, data_moments(x, y), q, 1.0 - q, 1.0 - q)


# --------------------------------------------------------------------------------------------
# spectra in closed form


def _repeat(values: torch.Tensor, times: int) -> torch.Tensor:
    return values.repeat_interleave(times)


def _with_zeros(values: torch.Tensor, p: int) -> torch.Tensor:
    zeros = torch.zeros(p - values.numel(), dtype=values.dtype, device=values.device)
    return torch.sort(torch.cat([values, zeros])).values


def _unit_block(m: Moments, w1_coef: float, coef: float) -> torch.Tensor:
    """The ``(d_x + d_y)``-square block of one hidden unit (H = 1): ``[[a Sxx, -c Sxy], [-c Syx, -c Syy]]``."""
    top = torch.cat([w1_coef * m.sxx, -coef * m.sxy], 1)
    bottom = torch.cat([-coef * m.sxy.T, -coef * m.syy], 1)
    return torch.cat([top, bottom], 0)


def _spectrum(widths: list[int], m: Moments, q: float, energy: bool) -> torch.Tensor:
    p = parameter_count(widths)
    n1, n_last = widths[1], widths[-2]
    if len(widths) == 3:
        # theta splits into n_1 copies (one per hidden unit j: row j of W_1 and column j of W_2)
        # of the same (d_x + d_y)-square block
        if energy:
            block = _unit_block(m, q, 1.0 - q)
        else:
            zeros = torch.zeros_like(m.sxx)
            block = torch.cat([torch.cat([zeros, -m.sxy], 1), torch.cat([-m.sxy.T, torch.zeros_like(m.syy)], 1)], 0)
        return torch.sort(_repeat(torch.linalg.eigvalsh(block), n1)).values
    if not energy:
        return torch.zeros(p, dtype=m.syy.dtype, device=m.syy.device)
    parts = [_repeat(-(1.0 - q) * torch.linalg.eigvalsh(m.syy), n_last)]
    if q:
        parts.append(_repeat(q * torch.linalg.eigvalsh(m.sxx), n1))
    return _with_zeros(torch.cat(parts), p)


def loss_spectrum_origin(widths: Sequence[int], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Eigenvalues (ascending, with multiplicity, ``(p,)``) of the loss Hessian at the origin (Eq. 7).

    ``H = 1``: ``+-sigma_k(Sxy)`` for each singular value of ``Sxy``, each ``n_1`` times, the other
    ``n_1 (d_x + d_y - 2 min(d_x, d_y))`` eigenvalues zero (computed here as ``n_1`` copies of the
    spectrum of ``-[[0, Sxy], [Syx, 0]]``). ``H >= 2``: all ``p`` eigenvalues are zero.
    """
    widths = _check_widths(widths, x, y)
    return _spectrum(widths, data_moments(x, y), 0.0, energy=False)


def energy_spectrum_origin(widths: Sequence[int], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Eigenvalues (ascending, with multiplicity, ``(p,)``) of the energy Hessian at the origin (Eq. 8).

    ``H >= 2``: ``-lambda_j(Syy)``, each ``n_{L-1}`` times, and ``p - d_y n_{L-1}`` zeros, so
    ``lambda_min = -lambda_max(Syy) < 0`` whenever some ``y_i != 0`` (Theorem 2).
    ``H = 1``: ``n_1`` copies of the spectrum of ``M = -[[0, Sxy], [Syx, Syy]]`` (``(d_x + d_y)``
    square), which has ``rank(Syy)`` negative and ``rank(Sxy)`` positive eigenvalues.
    """
    widths = _check_widths(widths, x, y)
    return _spectrum(widths, data_moments(x, y), 0.0, energy=True)


def unrolled_energy_spectrum_origin(
    widths: Sequence[int], x: torch.Tensor, y: torch.Tensor, n_steps: int, dt: float = 0.1
) -> torch.Tensor:
    """Eigenvalues (ascending, ``(p,)``) of :func:`unrolled_energy_hessian_origin` (derived here).

    With ``q = (1 - dt)^{2T}``: ``H >= 2`` gives ``q lambda_k(Sxx)`` (each ``n_1`` times),
    ``-(1 - q) lambda_j(Syy)`` (each ``n_{L-1}`` times) and zeros; ``H = 1`` gives ``n_1`` copies of
    the spectrum of ``[[q Sxx, -(1-q) Sxy], [-(1-q) Syx, -(1-q) Syy]]``.
    """
    widths = _check_widths(widths, x, y)
    return _spectrum(widths, data_moments(x, y), _decay(n_steps, dt), energy=True)


def negative_count_origin(widths: Sequence[int], x: torch.Tensor, y: torch.Tensor, rtol: float = 1e-10) -> int:
    """Number of negative eigenvalues of the energy Hessian at the origin: ``rank(Syy) n_{L-1}``.

    For ``H >= 2`` this is read off Eq. 8. For ``H = 1`` it follows from the inertia of
    ``M = -[[0, Sxy], [Syx, Syy]]``: the null space of ``Syy`` is also annihilated by ``Sxy``
    (``Syy v = 0`` means ``y v = 0``), and on the range of ``Syy`` a Schur complement gives
    ``rank(Syy)`` negative eigenvalues per hidden unit. ``rank(Syy)`` counts the eigenvalues of
    ``Syy`` above ``rtol * lambda_max(Syy)``; it is the dimension spanned by the targets (for one-hot
    targets, the number of classes present in the batch).
    """
    widths = _check_widths(widths, x, y)
    return target_rank(y, rtol) * widths[-2]


def target_rank(y: torch.Tensor, rtol: float = 1e-10) -> int:
    """``rank(Syy)``, ``Syy = y^T y / N``: the eigenvalues above ``rtol * lambda_max(Syy)`` (for one-hot
    targets, the number of classes present in the batch)."""
    eigs = torch.linalg.eigvalsh(y.T @ y / y.shape[0])
    top = float(eigs[-1]) if eigs.numel() else 0.0
    return int((eigs > rtol * top).sum()) if top > 0 else 0


# --------------------------------------------------------------------------------------------
# linear chains (all widths one; A.3.5)


@dataclass(frozen=True)
class ChainSpectra:
    """Hessian eigenvalues (ascending, ``(H + 1,)``) at the origin of a chain: ``loss`` and ``energy`` (of F*)."""

    loss: torch.Tensor
    energy: torch.Tensor


def chain_spectra_origin(n_hidden: int, x: torch.Tensor, y: torch.Tensor) -> ChainSpectra:
    """Closed-form Hessian eigenvalues at the origin of a linear chain ``w_L ... w_1 x`` (A.3.5).

    With ``a = mean(y^2)`` and ``b = mean(x y)`` (``x``, ``y`` of shape ``(N, 1)``):

    * ``H = 1``: loss ``+-|b|``; energy, the eigenvalues of ``[[0, -b], [-b, -a]]``,
      ``(-a +- sqrt(a^2 + 4 b^2)) / 2``. For the toy data ``y = -x`` (``a = b^2 / a = mean(x^2)``)
      these are ``mean(x^2) (-1 +- sqrt 5) / 2 = {mean(x^2) / phi, -phi mean(x^2)}`` with ``phi``
      the golden ratio (:data:`GOLDEN_RATIO`). Both lie below the corresponding loss eigenvalues
      whenever ``a > 0`` and ``b != 0`` (the A.3.5 inequality).
    * ``H >= 2``: loss all ``H + 1`` zeros; energy ``-a`` and ``H`` zeros.
    """
    if isinstance(n_hidden, bool) or not isinstance(n_hidden, int) or n_hidden < 1:
        raise ValueError(f"n_hidden must be an int >= 1 (a chain with H hidden units); received {n_hidden!r}")
    _check_batch(x, y)
    if x.shape[1] != 1 or y.shape[1] != 1:
        raise ValueError(f"a chain needs x and y of shape (N, 1); received {tuple(x.shape)} and {tuple(y.shape)}")
    m = data_moments(x, y)
    a, b = m.syy.reshape(()), m.sxy.reshape(())
    zeros = torch.zeros(n_hidden - 1, dtype=x.dtype, device=x.device)
    if n_hidden == 1:
        root = torch.sqrt(a**2 + 4 * b**2)
        loss = torch.stack([-b.abs(), b.abs()])
        energy = torch.stack([(-a - root) / 2, (-a + root) / 2])
    else:
        loss = torch.zeros(n_hidden + 1, dtype=x.dtype, device=x.device)
        energy = torch.cat([-a.reshape(1), zeros, torch.zeros(1, dtype=x.dtype, device=x.device)])
    return ChainSpectra(loss, energy)


def padded_spectrum(fn, weights: Sequence[torch.Tensor], p_full: int, chunk_size: int = 128
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The dense Hessian of ``fn`` at ``weights`` (from chunks of Hessian-vector products,
    :func:`reprokit.hessian.hessian_in_chunks`) and its eigenvalues padded with exact zeros to
    ``p_full`` values, sorted ascending.

    Used with inputs projected onto their span (:func:`reprokit.hessian.input_span`): the objectives
    depend on ``W_1`` only through ``W_1 x_i``, so the Hessian in the full parameters is, up to an
    orthogonal change of coordinates, the Hessian for the projected inputs plus
    ``p_full - p`` zero eigenvalues, where ``p`` is the number of parameters of ``weights``.
    """
    from reprokit import hessian

    mat = hessian.hessian_in_chunks(fn, weights, chunk_size)  # (p, p)
    if p_full < mat.shape[0]:
        raise ValueError(f"p_full={p_full} is smaller than the {mat.shape[0]} parameters differentiated")
    eig = torch.linalg.eigvalsh(mat)
    return mat, torch.sort(torch.cat([eig, eig.new_zeros(p_full - eig.numel())])).values
