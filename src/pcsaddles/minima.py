"""Minima of the equilibrated energy: A.3.7 and two caveats (the paper's Appendix A.3.7, and two caveats derived for this book).

* **Flatter minima (A.3.7).** At a perfect-fit point (``W_{L:1} x_i = y_i`` for every example,
  realizable data) the residual vanishes, so only the first derivatives of the residual enter the
  Hessians (derived here, a Gauss-Newton identity): with ``G = d vec_r(W_{L:1}) / d theta``
  ``(d_L d_0, p)``,

      H_L  = G^T (I_{d_L} (x) Sxx) G,        H_F* = G^T (S^{-1} (x) Sxx) G,

  and ``S^{-1} <= I`` gives ``H_F* <= H_L`` in the Loewner order, with
  ``H_L / lambda_max(S) <= H_F* <= H_L / lambda_min(S)``. For chains ``S`` is the number
  ``s = 1 + sum_{l>=2} w_{L:l}^2`` and ``H_F* = H_L / s`` exactly (the paper's statement).
* **No minimiser for non-realizable data.** Along the rescaling path
  ``(W_1 / c, W_2, ..., W_{L-1}, c W_L)`` the end-to-end map, hence the loss, is constant, while
  ``S(c) = I + c^2 K`` with ``K = S(1) - I >= W_L W_L^T``. If ``W_L`` has full row rank, ``K`` is
  positive definite and ``F*(c) = 1/2 tr((I + c^2 K)^{-1} Psi)`` decreases to 0 like
  ``tr(K^{-1} Psi) / (2 c^2)``. So when ``n_{L-1} >= d_L`` (``W_L`` can have full row rank) and
  the data are not realizable (``Psi`` can not vanish), ``F*`` has infimum 0 and no minimiser at
  finite weights. This is the ``1/2 log det S`` term that ``F*`` lacks (compared with the negative log-likelihood of the implicit model of Appendix A.3.2).
* **A degenerate-data counterexample** to "all saddles of ``F*`` are strict" (from a third-party formalisation of the paper, checked here):
  a chain with one hidden unit, ``x = (1, 1)``, ``y = (1, -1)`` (so ``Sxy = 0``), where
  ``F*(w_1, w_2) = (1 + w_1^2 w_2^2) / (2 (1 + w_2^2))``; every ``(w_1, 0)`` is critical and
  ``(1, 0)`` has a zero Hessian while ``F*(1 + a, b) - F*(1, 0) = b^2 ((1 + a)^2 - 1) / (2 (1 + b^2))``
  takes both signs: a non-strict saddle.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from . import dln
from ._checks import check_data, check_weights

# --------------------------------------------------------------------------------------------
# perfect-fit minima and their Hessians


def _kron(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # torch.kron raises on some non-contiguous inputs (e.g. a transpose or linalg.inv's output)
    return torch.kron(a.contiguous(), b.contiguous())


def chain_minimum(n_hidden: int, slope: float, seed: int = 0, dtype=torch.float64) -> list[torch.Tensor]:
    """A chain (all widths 1) on the perfect-fit manifold ``w_L ... w_1 = slope``.

    ``w_1..w_{L-1}`` are drawn ``+-U(0.5, 1.5)`` (away from 0, so ``w_L = slope / (w_{L-1} ... w_1)``
    stays moderate); returns ``[w_1, ..., w_L]`` as ``(1, 1)`` tensors. For data ``y = slope * x`` it
    is a global minimum of the loss and of ``F*`` (both are 0 there).
    """
    if isinstance(n_hidden, bool) or not isinstance(n_hidden, int) or n_hidden < 1:
        raise ValueError(f"n_hidden must be a positive int; received {n_hidden!r}")
    gen = torch.Generator().manual_seed(seed)
    mags = 0.5 + torch.rand(n_hidden, generator=gen, dtype=torch.float64)
    signs = torch.where(torch.rand(n_hidden, generator=gen, dtype=torch.float64) < 0.5, -1.0, 1.0)
    ws = (mags * signs).tolist()
    prod = 1.0
    for w in ws:
        prod *= w
    ws.append(slope / prod)
    return [torch.tensor([[w]], dtype=dtype) for w in ws]


def chain_rescaling(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``s = 1 + sum_{l=2}^{L} w_{L:l}^2`` for a chain (every ``W_l`` of shape ``(1, 1)``)."""
    widths = check_weights(weights)
    if any(w != 1 for w in widths):
        raise ValueError(f"a chain has all widths 1; received widths {widths}")
    return dln.rescaling(weights)[0, 0]


def fit_end_to_end(widths: Sequence[int], target: torch.Tensor, seed: int = 0, dtype=torch.float64) -> list[torch.Tensor]:
    """A *balanced* factorisation with end-to-end map exactly ``W_{L:1} = target`` ``(d_L, d_0)``.

    With the thin SVD ``target = U Sigma V^T`` (rank ``r``) and random matrices ``R_l (n_l, r)`` with
    orthonormal columns (seeded), ``W_1 = R_1 Sigma^{1/L} V^T``, ``W_l = R_l Sigma^{1/L} R_{l-1}^T``
    and ``W_L = U Sigma^{1/L} R_{L-1}^T``; every hidden width must be at least ``r``. This is the
    kind of point gradient descent from a small initialisation reaches (all layers share the
    singular values ``sigma^{1/L}``). With ``target`` a least-squares solution it is a global
    minimum of the loss (a perfect fit when the data are realizable).
    """
    widths = list(widths)
    if len(widths) < 3:
        raise ValueError(f"need at least one hidden layer; received widths {widths}")
    if tuple(target.shape) != (widths[-1], widths[0]):
        raise ValueError(f"target must have shape ({widths[-1]}, {widths[0]}); received {tuple(target.shape)}")
    target = target.to(dtype)
    u, sig, vh = torch.linalg.svd(target, full_matrices=False)
    rank = int((sig > 1e-12 * sig[0]).sum()) if sig.numel() and sig[0] > 0 else 0
    if rank == 0:
        raise ValueError("target is zero: use init.zeros for the end-to-end map 0")
    if min(widths[1:-1]) < rank:
        raise ValueError(f"every hidden width must be >= rank(target) = {rank}; received widths {widths}")
    u, root, vh = u[:, :rank], torch.diag(sig[:rank] ** (1.0 / (len(widths) - 1))), vh[:rank]
    gen = torch.Generator().manual_seed(seed)
    frames = []
    for n in widths[1:-1]:
        q, _ = torch.linalg.qr(torch.randn(n, rank, generator=gen, dtype=torch.float64).to(dtype))
        frames.append(q)  # (n_l, r), orthonormal columns
    weights = [frames[0] @ root @ vh]
    for prev, cur in zip(frames[:-1], frames[1:]):
        weights.append(cur @ root @ prev.T)
    weights.append(u @ root @ frames[-1].T)
    return weights


def random_gauge(weights: Sequence[torch.Tensor], strength: float, seed: int = 0) -> list[torch.Tensor]:
    """Move along the fibre of the end-to-end map: ``W_l -> Q_l W_l Q_{l-1}^{-1}`` with random
    invertible ``Q_l = I + strength * N(0, 1/n_l)`` on every hidden layer (``Q_0 = Q_L = I``).

    ``W_{L:1}`` (hence the loss, and a perfect fit) is unchanged; ``S`` and the Hessians are not.
    """
    widths = check_weights(weights)
    gen = torch.Generator().manual_seed(seed)
    ref = weights[0]
    gauges = []
    for n in widths[1:-1]:
        q = torch.eye(n, dtype=torch.float64) + strength * torch.randn(n, n, generator=gen, dtype=torch.float64) / n**0.5
        gauges.append(q.to(dtype=ref.dtype, device=ref.device))
    out, prev_inv = [], None
    for l, w in enumerate(weights):
        if prev_inv is not None:
            w = w @ prev_inv
        if l < len(gauges):
            w = gauges[l] @ w
            prev_inv = torch.linalg.inv(gauges[l])
        out.append(w)
    return out


def end_to_end_jacobian(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``G = d vec_r(W_{L:1}) / d theta`` of shape ``(d_L d_0, p)`` (row-major, blocks ``W_1..W_L``).

    Block ``l`` is ``W_{L:l+1} (x) W_{l-1:1}^T``: ``d(W_{L:1})[i, j] / d W_l[a, b] =
    W_{L:l+1}[i, a] W_{l-1:1}[b, j]``.
    """
    widths = check_weights(weights)
    ref = weights[0]
    L = len(weights)
    blocks = []
    for l in range(1, L + 1):
        left = torch.eye(widths[-1], dtype=ref.dtype, device=ref.device)
        for w in reversed(weights[l:]):  # W_L ... W_{l+1}
            left = left @ w
        right = torch.eye(widths[0], dtype=ref.dtype, device=ref.device)
        for w in weights[: l - 1]:  # W_{l-1} ... W_1
            right = w @ right
        blocks.append(_kron(left, right.T))
    return torch.cat(blocks, dim=1)


def perfect_fit_hessians(weights: Sequence[torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(H_L, H_F*)`` at a zero-residual point in closed form (module docstring), each ``(p, p)``:
    ``G^T (I (x) Sxx) G`` and ``G^T (S^{-1} (x) Sxx) G`` with ``Sxx = X^T X / N``.

    Valid only where ``W_{L:1} x_i = y_i`` for every example (the residual terms are dropped).
    """
    check_data(weights, x)
    g = end_to_end_jacobian(weights)
    sxx = x.T @ x / x.shape[0]
    s = dln.rescaling(weights)
    eye = torch.eye(s.shape[0], dtype=s.dtype, device=s.device)
    return g.T @ _kron(eye, sxx) @ g, g.T @ _kron(torch.linalg.inv(s), sxx) @ g


# --------------------------------------------------------------------------------------------
# the rescaling path (non-realizable data)


def rescale(weights: Sequence[torch.Tensor], c: float) -> list[torch.Tensor]:
    """``[W_1 / c, W_2, ..., W_{L-1}, c W_L]``: same end-to-end map, hence the same loss."""
    check_weights(weights)
    if len(weights) < 2:
        raise ValueError("rescaling needs at least two weight matrices")
    if not c > 0:
        raise ValueError(f"c must be positive; received {c}")
    return [weights[0] / c, *weights[1:-1], c * weights[-1]]


def rescaling_path_limit(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    """``lim_{c -> inf} c^2 F*(rescale(weights, c)) = 1/2 tr(K^{-1} Psi)`` with ``K = S - I`` and
    ``Psi`` the residual moment; needs ``K`` positive definite (``W_L`` of full row rank)."""
    check_data(weights, x, y)
    s = dln.rescaling(weights)
    k = s - torch.eye(s.shape[0], dtype=s.dtype, device=s.device)
    if float(torch.linalg.eigvalsh(k)[0]) <= 0:
        raise ValueError("S - I is singular: W_L must have full row rank (n_{L-1} >= d_L) for F* -> 0 along the path")
    r = y - x @ dln.end_to_end(weights).T  # (N, d_L)
    psi = r.T @ r / x.shape[0]
    return 0.5 * float(torch.trace(torch.linalg.solve(k, psi)))


# --------------------------------------------------------------------------------------------
# the degenerate-data counterexample


def counterexample_data(dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """``x = (1, 1)``, ``y = (1, -1)`` as ``(2, 1)`` tensors: ``Sxy = 0``, ``Syy = 1``."""
    return torch.tensor([[1.0], [1.0]], dtype=dtype), torch.tensor([[1.0], [-1.0]], dtype=dtype)


def counterexample_energy(w1: torch.Tensor | float, w2: torch.Tensor | float):
    """``F*(w_1, w_2) = (1 + w_1^2 w_2^2) / (2 (1 + w_2^2))`` for the counterexample data (elementwise)."""
    return (1 + (w1 * w2) ** 2) / (2 * (1 + w2**2))


def chain(*ws: float, dtype=torch.float64) -> list[torch.Tensor]:
    """``[w_1, ..., w_L]`` as ``(1, 1)`` tensors."""
    return [torch.tensor([[float(w)]], dtype=dtype) for w in ws]


def energy_descent(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor, lr: float, n_steps: int,
                   record: Sequence[int]) -> dict[str, list[float]]:
    """Full-batch gradient descent on ``F*`` (Eq. 5): PC learning with exact inference (by the
    envelope identity of Theorem 1 the PC weight gradient at the equilibrium is ``grad F*``).

    Returns, at the iterations in ``record`` (``0 <= t <= n_steps``), lists ``"step"``, ``"energy"``
    (``F*``), ``"loss"`` and ``"norms"`` (Frobenius norm of every ``W_l``, one list per record).
    Used to watch the drift along the rescaling path on non-realizable data.
    """
    check_data(weights, x, y)
    if not lr > 0 or int(n_steps) != n_steps or n_steps < 0:
        raise ValueError(f"need lr > 0 and an integer n_steps >= 0; received lr={lr}, n_steps={n_steps}")
    marks = sorted({int(t) for t in record})
    if marks and (marks[0] < 0 or marks[-1] > n_steps):
        raise ValueError(f"record must lie in [0, n_steps = {n_steps}]; received {list(record)}")
    params = [w.detach().clone().requires_grad_(True) for w in weights]
    out: dict[str, list] = {"step": [], "energy": [], "loss": [], "norms": []}
    for t in range(int(n_steps) + 1):
        energy = dln.equilibrated_energy(params, x, y)
        if t in marks:
            with torch.no_grad():
                out["step"].append(t)
                out["energy"].append(float(energy))
                out["loss"].append(float(dln.mse_loss(params, x, y)))
                out["norms"].append([float(p.norm()) for p in params])
        if t == n_steps:
            break
        grads = torch.autograd.grad(energy, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= lr * g
    return out
