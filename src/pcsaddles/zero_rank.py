"""Theorem 3: zero-rank saddles of the equilibrated energy other than the origin (the paper's §3.3 and Appendix A.3.6).

The family is ``theta*(W_L = 0, W_{L-1:1} = 0)``: the last weight matrix and the product of all
the others vanish. Every such point is a critical point of both the loss and the equilibrated
energy ``F*`` (Eq. 5), and (Theorem 3) a *strict* saddle of ``F*`` whenever some ``y_i != 0``.
Theorem 2 is the special case ``theta* = 0``.

The experiments (the authors' ``init_type="other_saddle"``; Figs 9, 10, 12) use one point of the
family: **all weights zero except the penultimate matrix** ``W_{L-1} = B`` at PyTorch's default
initialisation (:func:`other_saddle`).

Explicit Hessian (derived for this book; proof below). With ``A = I + sum_{l=2}^{L-1} W_{L-1:l}
W_{L-1:l}^T`` (the rescaling matrix of the truncated network ``W_1..W_{L-1}``), ``P = W_{L-1:1}``
and its first-order variation ``dP = sum_{l=1}^{L-1} W_{L-1:l+1} dW_l W_{l-1:1}``, a perturbation
``dW`` of a family point changes ``S = I + dW_L A dW_L^T + O(3)`` and the residual by
``-dW_L dP x + O(3)``, so

    F*(theta* + dW) = F*(theta*) - 1/2 tr(dW_L A dW_L^T Syy) - tr(dW_L dP Sxy) + O(|dW|^3),
    L(theta* + dW)  = L(theta*)                              - tr(dW_L dP Sxy) + O(|dW|^3),

with the uncentred moments ``Syy = Y^T Y / N (d_L, d_L)`` and ``Sxy = X^T Y / N (d_0, d_L)``.
Hence both gradients vanish and, in the row-major flattening (``W.reshape(-1)``, the paper's row-wise vec,
blocks ``W_1..W_L``),

* ``W_L``-``W_L`` block of ``H_F*``: ``-Syy (x) A`` (``torch.kron(Syy, A)``); of ``H_L``: 0;
* ``W_L``-``W_l`` blocks (``l < L``) of both: ``-M_l[a, b] (N_l Sxy)[c, i]`` at row ``(i, a)``
  and column ``(b, c)``, with ``M_l = W_{L-1:l+1}`` and ``N_l = W_{l-1:1}``;
* all other blocks 0.

So ``H_F* = H_L + blockdiag(0, ..., 0, -Syy (x) A)`` and ``lambda_min(H_F*) <= -lambda_max(Syy)
lambda_max(A) < 0`` (Rayleigh quotient at ``dW_L = u v^T`` with the top eigenvectors ``u`` of
``Syy`` and ``v`` of ``A``). At the experiments' point with ``H >= 3`` every ``M_l (x) N_l``
vanishes, so ``H_L = 0`` (a non-strict saddle of the loss) while ``H_F* = blockdiag(0, ...,
-Syy (x) (I + B B^T))`` has the eigenvalues ``-lambda_i(Syy) mu_j(I + B B^T)`` and zeros. For
``H = 2`` the cross term ``-tr(dW_3 B dW_1 Sxy)`` survives and the point is strict for the loss
too, which is why the paper shows this saddle for ``H >= 3`` only.

Numerical helpers for the chapter (linear networks):

* :func:`pcsaddles.pc.unrolled_energy_linear` -- the energy after ``T`` Euler inference steps in
  closed form (matrix powers instead of a ``T``-step loop); equal to
  :func:`pcsaddles.pc.unrolled_energy` to round-off, and about a hundred times cheaper to
  differentiate twice.
* :func:`hessian_and_spectrum` -- a dense Hessian and its spectrum, computed "through the batch"
  when the batch is smaller than the input (``N < d_0``, e.g. 64 MNIST images of 784 pixels): the
  objectives see ``W_1`` only through ``x W_1^T``, so the ``(p, p)`` Hessian is ``J^T H' J`` with
  ``H'`` the Hessian in ``(W_1 x^T, W_2, ..., W_L)`` (``p' = n_1 N + ...`` coordinates) and its
  spectrum is that of ``G^{1/2} H' G^{1/2}``, ``G = J J^T``, plus ``p - p'`` zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from reprokit import hessian

from . import dln, init, origin, pc
from ._checks import check_data, check_weights

# --------------------------------------------------------------------------------------------
# the family and the experiments' point


def other_saddle(widths: Sequence[int], seed: int = 0, dtype=torch.float64, device=None) -> list[torch.Tensor]:
    """The experiments' point of Theorem 3: every weight zero except ``W_{L-1} = B``.

    ``B`` has shape ``(widths[-2], widths[-3])`` and PyTorch's default ``nn.Linear`` entries
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``: it is the ``W_{L-1}`` of
    :func:`pcsaddles.init.default_uniform` with the same ``widths`` and ``seed``. Needs ``H >= 2``
    hidden layers (for ``H = 1``, ``W_{L-1} = W_1`` and ``W_{L-1:1} = B != 0`` is not in the family).
    """
    widths = list(widths)
    if len(widths) < 4:
        raise ValueError(
            f"the other zero-rank saddle needs H >= 2 hidden layers (widths [d_0, n_1, n_2, ..., d_L] with at "
            f"least 4 entries); received widths {widths}"
        )
    weights = init.zeros(widths, dtype=dtype, device=device)
    weights[-2] = init.default_uniform(widths, seed=seed, dtype=dtype, device=device)[-2]
    return weights


def _products_to_first(weights: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``[W_{0:1} = I, W_{1:1}, W_{2:1}, ..., W_{L-1:1}]`` (``W_{l:1}`` has shape ``(d_l, d_0)``)."""
    ref = weights[0]
    out = [torch.eye(ref.shape[1], dtype=ref.dtype, device=ref.device)]
    for w in weights[:-1]:
        out.append(w @ out[-1])
    return out


def _products_from_penultimate(weights: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``M_l = W_{L-1:l+1}`` for ``l = 1..L-1`` (``(n_{L-1}, n_l)``; ``M_{L-1} = I``)."""
    L = len(weights)
    ref = weights[-1]
    m = torch.eye(weights[-1].shape[1], dtype=ref.dtype, device=ref.device)  # W_{L-1:L} = I
    out = [m]
    for l in range(L - 2, 0, -1):  # l = L-2, ..., 1: M_l = M_{l+1} W_{l+1} = W_{L-1:l+1}
        m = m @ weights[l]  # weights[l] is W_{l+1}
        out.append(m)
    out.reverse()  # [M_1, ..., M_{L-1}]
    return out


def in_family(weights: Sequence[torch.Tensor], atol: float = 0.0) -> bool:
    """Whether ``max|W_L| <= atol`` and ``max|W_{L-1:1}| <= atol`` (the family of Theorem 3)."""
    check_weights(weights)
    if len(weights) < 2:
        return False
    head = _products_to_first(weights)[-1]
    return bool(weights[-1].abs().max() <= atol and head.abs().max() <= atol)


def _require_family(weights, atol: float = 1e-12) -> None:
    if not in_family(weights, atol):
        head = _products_to_first(weights)[-1]
        raise ValueError(
            "the closed forms of Theorem 3 hold on the family W_L = 0, W_{L-1:1} = 0; received "
            f"max|W_L| = {float(weights[-1].abs().max()):.3g}, max|W_{{L-1:1}}| = {float(head.abs().max()):.3g} "
            "(build the experiments' point with zero_rank.other_saddle)"
        )


def penultimate_rescaling(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``A = I + sum_{l=2}^{L-1} W_{L-1:l} W_{L-1:l}^T`` of shape ``(n_{L-1}, n_{L-1})``.

    ``A`` is the rescaling matrix ``S`` of the truncated network ``W_1..W_{L-1}``; at the
    experiments' point it is ``I + B B^T``.
    """
    check_weights(weights)
    if len(weights) < 2:
        raise ValueError("A needs at least two weight matrices (one hidden layer)")
    return dln.rescaling(weights[:-1])


# --------------------------------------------------------------------------------------------
# explicit Hessians on the family


def _cross_blocks(weights, x, y) -> list[torch.Tensor]:
    """``d^2 L / dW_L dW_l`` for ``l = 1..L-1``, each ``(d_L n_{L-1}, n_l n_{l-1})`` (row-major)."""
    sxy = origin.data_moments(x, y).sxy
    heads = _products_to_first(weights)  # heads[l-1] = N_l = W_{l-1:1}
    tails = _products_from_penultimate(weights)  # tails[l-1] = M_l = W_{L-1:l+1}
    d_out, n_pen = weights[-1].shape
    blocks = []
    for l in range(1, len(weights)):
        m = tails[l - 1]  # (n_{L-1}, n_l)
        ns = heads[l - 1] @ sxy  # (n_{l-1}, d_L)
        # entry [(i, a), (b, c)] = -M[a, b] (N Sxy)[c, i]
        block = -torch.einsum("ab,ci->iabc", m, ns).reshape(d_out * n_pen, m.shape[1] * ns.shape[0])
        blocks.append(block)
    return blocks


def loss_hessian(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The loss Hessian ``(p, p)`` at a point of the family, from the closed form (module docstring).

    Only the ``W_L``-``W_l`` cross blocks are non-zero; at the experiments' point with ``H >= 3``
    the whole matrix is zero.
    """
    check_data(weights, x, y)
    _require_family(weights)
    off = origin.block_offsets(check_weights(weights))
    ref = weights[0]
    out = torch.zeros(off[-1], off[-1], dtype=ref.dtype, device=ref.device)
    last = slice(off[-2], off[-1])
    for l, block in enumerate(_cross_blocks(weights, x, y), start=1):
        cols = slice(off[l - 1], off[l])
        out[last, cols] = block
        out[cols, last] = block.T
    return out


def energy_hessian(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The Hessian ``(p, p)`` of ``F*`` at a point of the family: the loss Hessian plus ``-Syy (x) A``
    in the ``W_L``-``W_L`` block (row-major, ``torch.kron(Syy, A)``)."""
    out = loss_hessian(weights, x, y)
    syy = origin.data_moments(x, y).syy
    k = weights[-1].numel()
    out[-k:, -k:] = -torch.kron(syy.contiguous(), penultimate_rescaling(weights).contiguous())
    return out


def cross_blocks_vanish(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> bool:
    """Whether every ``W_L``-``W_l`` block is exactly zero (then ``H_L = 0``; true at the experiments'
    point for ``H >= 3``, false for ``H = 2`` unless ``B Sxy``-terms cancel)."""
    check_data(weights, x, y)
    _require_family(weights)
    return all(bool((b == 0).all()) for b in _cross_blocks(weights, x, y))


def energy_spectrum(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Closed-form eigenvalues ``(p,)`` (ascending) of ``H_F*`` where the cross blocks vanish:
    ``-lambda_i(Syy) mu_j(A)`` for all ``d_L n_{L-1}`` pairs ``(i, j)``, and ``p - d_L n_{L-1}`` zeros.

    Raises ValueError where a cross block is non-zero (e.g. ``H = 2``); use
    ``torch.linalg.eigvalsh(energy_hessian(...))`` there.
    """
    if not cross_blocks_vanish(weights, x, y):
        raise ValueError(
            "the W_L-W_l cross blocks of the Hessian do not vanish at this point (e.g. H = 2), so the spectrum "
            "is not the product formula; use torch.linalg.eigvalsh(zero_rank.energy_hessian(weights, x, y))"
        )
    syy = origin.data_moments(x, y).syy
    lam = torch.linalg.eigvalsh(syy)
    mu = torch.linalg.eigvalsh(penultimate_rescaling(weights))
    negative = -(lam[:, None] * mu[None, :]).reshape(-1)
    p = sum(w.numel() for w in weights)
    zeros = torch.zeros(p - negative.numel(), dtype=negative.dtype, device=negative.device)
    return torch.sort(torch.cat([negative, zeros])).values


def lambda_min_bound(weights: Sequence[torch.Tensor], y: torch.Tensor) -> float:
    """Theorem 3's bound ``-lambda_max(Syy) lambda_max(A)``: ``lambda_min(H_F*)`` is at most this
    (with equality at the experiments' point for ``H >= 3``)."""
    _require_family(weights)
    syy = y.T @ y / y.shape[0]
    return -float(torch.linalg.eigvalsh(syy)[-1] * torch.linalg.eigvalsh(penultimate_rescaling(weights))[-1])


def expected_negative_count(weights: Sequence[torch.Tensor], y: torch.Tensor, rtol: float = 1e-10) -> int:
    """``rank(Syy) n_{L-1}``: the number of negative eigenvalues of ``H_F*`` where the cross blocks
    vanish (``A`` is positive definite). The rank counts eigenvalues above ``rtol * lambda_max(Syy)``."""
    return origin.target_rank(y, rtol) * weights[-1].shape[1]


# --------------------------------------------------------------------------------------------
# numerics: Hessians through the batch


def _through_batch(weights, x):
    """``[W_1 x^T, W_2, ..., W_L]`` and ``I_N``: the same network seen through the batch."""
    eye = torch.eye(x.shape[0], dtype=x.dtype, device=x.device)
    return [weights[0] @ x.T, *weights[1:]], eye


def _first_block_apply(mat: torch.Tensor, n1: int, factor: torch.Tensor, side: str) -> torch.Tensor:
    """Apply ``(I_{n1} (x) factor)`` (``factor (r, c)``) to the first ``n1 * r`` rows (side="rows",
    computing ``(I (x) factor)^T M`` on those rows) or columns (side="cols", ``M (I (x) factor)``)."""
    r, c = factor.shape
    if side == "rows":
        head, rest = mat[: n1 * r], mat[n1 * r:]
        head = torch.einsum("aik,ic->ack", head.reshape(n1, r, -1), factor).reshape(n1 * c, -1)
        return torch.cat([head, rest], dim=0)
    head, rest = mat[:, : n1 * r], mat[:, n1 * r:]
    head = torch.einsum("kai,ic->kac", head.reshape(-1, n1, r), factor).reshape(-1, n1 * c)
    return torch.cat([head, rest], dim=1)


def _sym_sqrt(gram: torch.Tensor) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(gram)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def hessian_and_spectrum(fn: Callable[[list[torch.Tensor], torch.Tensor], torch.Tensor],
                         weights: Sequence[torch.Tensor], x: torch.Tensor, *, full: bool = True
                         ) -> tuple[torch.Tensor | None, torch.Tensor]:
    """The dense Hessian ``(p, p)`` of ``fn(weights, x)`` in the weights and its eigenvalues ``(p,)``.

    ``fn(ws, xs)`` must see ``W_1`` only through ``xs @ W_1.T`` (true for the loss, ``F*`` and the
    PC energy after any number of inference steps), so that the batch can be swapped for
    ``I_N`` and ``W_1`` for ``W_1 x^T``. When ``N < d_0`` the Hessian is computed in those
    ``p' = n_1 N + ...`` coordinates (``H'``) and (row-major order)

    * the Hessian is ``J^T H' J`` with ``J = blockdiag(I_{n_1} (x) x, I)`` (returned if ``full``);
    * the spectrum is that of ``G^{1/2} H' G^{1/2}``, ``G = J J^T = blockdiag(I (x) x x^T, I)``,
      plus ``p - p'`` zeros (``J^T H' J`` and ``H' G`` share their non-zero eigenvalues).

    Otherwise it is the plain :func:`reprokit.hessian.hessian` and ``eigvalsh``. With
    ``full=False`` the ``(p, p)`` matrix is not formed and ``None`` is returned in its place.
    """
    check_data(weights, x)
    n, d0 = x.shape
    if n >= d0:
        h = hessian.hessian(lambda ws: fn(ws, x), weights)
        return (h if full else None), torch.linalg.eigvalsh(h)
    reduced, eye = _through_batch(weights, x)
    h_red = hessian.hessian(lambda ws: fn(ws, eye), reduced)  # (p', p')
    n1 = weights[0].shape[0]
    root = _sym_sqrt(x @ x.T)  # G^{1/2} on each (N, N) block of the first layer
    m = _first_block_apply(_first_block_apply(h_red, n1, root, "rows"), n1, root, "cols")
    vals = torch.linalg.eigvalsh(0.5 * (m + m.T))
    p = sum(w.numel() for w in weights)
    vals = torch.sort(torch.cat([vals, vals.new_zeros(p - vals.numel())])).values
    if not full:
        return None, vals
    h = _first_block_apply(_first_block_apply(h_red, n1, x, "rows"), n1, x, "cols")
    return h, vals


# --------------------------------------------------------------------------------------------
# one network, every quantity the chapter reports


def analyse(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor, n_steps: int = 50, dt: float = 0.1,
            *, loop: bool = False, keep: bool = True, extra_steps: Sequence[int] = ()) -> dict:
    """Gradients, Hessians and spectra of the loss and the energy at a point of the family.

    Numerical Hessians (dense, autodiff; through the batch when ``N < d_0``, see
    :func:`hessian_and_spectrum`): the loss ``L``, the equilibrated energy ``F*`` (Eq. 5) and the
    energy after ``n_steps`` Euler steps from the feed-forward activities (closed form
    :func:`pcsaddles.pc.unrolled_energy_linear`; with ``loop=True`` also the step-by-step
    :func:`pcsaddles.pc.unrolled_energy`, the authors' procedure, which is much slower). Theory:
    :func:`energy_hessian` and, where the cross blocks vanish, :func:`energy_spectrum`.

    Returns a dict of floats and eigenvalue tensors (ascending): ``p``, ``grad_energy`` and
    ``grad_loss`` (max abs), ``loss_max`` (max abs of the numerical loss Hessian), ``loss_gap``
    and ``energy_gap`` (numerical vs explicit, max abs), ``unrolled_gap`` (energy after
    ``n_steps`` vs explicit), ``unrolled_gaps`` (``{T: gap}`` for ``extra_steps``), ``loop_gap``
    (loop vs closed form, or None), ``eig_loss``, ``eig_energy``, ``eig_unrolled``, ``eig_theory``,
    ``spectrum_gap`` (``eig_energy`` vs ``eig_theory``), ``lambda_min``, ``bound``,
    ``n_negative`` / ``n_negative_unrolled`` (eigenvalues below ``-1e-8``), ``expected_negative``,
    ``cross_vanish``, ``activity_lambda_min`` (smallest eigenvalue of the activity Hessian, which
    sets the Euler rate ``(1 - dt lambda)^{2T}`` of the unrolled Hessian), and, when ``keep``, the
    matrices ``H_loss``, ``H_energy``, ``H_unrolled``, ``H_theory`` (omit for large ``p``).
    """
    check_data(weights, x, y)
    _require_family(weights)
    ws = [w.detach() for w in weights]
    out: dict = {"p": sum(w.numel() for w in ws)}
    out["grad_energy"] = float(hessian.gradient(lambda w: dln.equilibrated_energy(w, x, y), ws).abs().max())
    out["grad_loss"] = float(hessian.gradient(lambda w: dln.mse_loss(w, x, y), ws).abs().max())

    theory = energy_hessian(ws, x, y)
    h_loss, out["eig_loss"] = hessian_and_spectrum(lambda w, xs: dln.mse_loss(w, xs, y), ws, x)
    out["loss_max"] = float(h_loss.abs().max())
    out["loss_gap"] = float((h_loss - loss_hessian(ws, x, y)).abs().max())
    h_energy, out["eig_energy"] = hessian_and_spectrum(lambda w, xs: dln.equilibrated_energy(w, xs, y), ws, x)
    out["energy_gap"] = float((h_energy - theory).abs().max())
    h_unrolled, out["eig_unrolled"] = hessian_and_spectrum(
        lambda w, xs: pc.unrolled_energy_linear(w, xs, y, n_steps, dt), ws, x)
    out["unrolled_gap"] = float((h_unrolled - theory).abs().max())
    out["unrolled_gaps"] = {}
    for t in extra_steps:
        h_t, _ = hessian_and_spectrum(lambda w, xs: pc.unrolled_energy_linear(w, xs, y, t, dt), ws, x)
        out["unrolled_gaps"][int(t)] = float((h_t - theory).abs().max())
        del h_t
    out["loop_gap"] = None
    if loop:
        h_loop, _ = hessian_and_spectrum(lambda w, xs: pc.unrolled_energy(w, xs, y, n_steps, dt), ws, x)
        out["loop_gap"] = float((h_loop - h_unrolled).abs().max())
        del h_loop

    out["cross_vanish"] = cross_blocks_vanish(ws, x, y)
    out["eig_theory"] = energy_spectrum(ws, x, y) if out["cross_vanish"] else torch.linalg.eigvalsh(theory)
    out["spectrum_gap"] = float((out["eig_energy"] - out["eig_theory"]).abs().max())
    out["lambda_min"] = float(out["eig_energy"][0])
    out["bound"] = lambda_min_bound(ws, y)
    out["n_negative"] = int((out["eig_energy"] < -1e-8).sum())
    out["n_negative_unrolled"] = int((out["eig_unrolled"] < -1e-8).sum())
    out["expected_negative"] = expected_negative_count(ws, y)
    out["activity_lambda_min"] = float(torch.linalg.eigvalsh(dln.activity_hessian(ws))[0])
    if keep:
        out.update(H_loss=h_loss, H_energy=h_energy, H_unrolled=h_unrolled, H_theory=theory)
    return out
