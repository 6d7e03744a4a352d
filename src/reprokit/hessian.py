"""Hessians of scalar functions of the weights: dense (at once or in chunks), Hessian-vector
products and Lanczos, and the input-span reduction for batches smaller than the input.

Flattening convention: each ``W_l`` is flattened row-major (``W.reshape(-1)``, as
``W.ravel()`` in numpy) and the blocks are concatenated in the order ``W_1, ..., W_L``, so a
parameter vector has ``p = sum_l d_l d_{l-1}`` entries and the Hessian is ``(p, p)``.

``fn`` is any scalar function of the weight list, e.g.
``lambda ws: dln.equilibrated_energy(ws, x, y)`` or the energy after ``T`` differentiable
inference steps. Derivatives use ``torch.func`` (forward-over-reverse).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .checks import check_weights

ScalarFn = Callable[[list[torch.Tensor]], torch.Tensor]


def shapes_of(weights: Sequence[torch.Tensor]) -> list[tuple[int, int]]:
    check_weights(weights)
    return [tuple(w.shape) for w in weights]


def flatten(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """Concatenate the row-major flattened weights ``[vec_r(W_1), ..., vec_r(W_L)]`` into one ``(p,)`` vector."""
    check_weights(weights)
    return torch.cat([w.reshape(-1) for w in weights])


def unflatten(vector: torch.Tensor, shapes: Sequence[tuple[int, int]]) -> list[torch.Tensor]:
    """Inverse of :func:`flatten`: split a ``(p,)`` vector into matrices of the given shapes."""
    sizes = [a * b for a, b in shapes]
    if vector.ndim != 1 or vector.shape[0] != sum(sizes):
        raise ValueError(f"expected a vector of {sum(sizes)} entries for shapes {list(shapes)}; received {tuple(vector.shape)}")
    return [part.reshape(shape) for part, shape in zip(torch.split(vector, sizes), shapes)]


def _flat_fn(fn: ScalarFn, shapes):
    def g(v: torch.Tensor) -> torch.Tensor:
        out = fn(unflatten(v, shapes))
        if not isinstance(out, torch.Tensor) or out.numel() != 1:
            raise ValueError("fn must return a scalar tensor")
        return out.reshape(())

    return g


def gradient(fn: ScalarFn, weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """The flattened gradient ``(p,)`` of ``fn`` at ``weights``."""
    shapes = shapes_of(weights)
    return torch.func.grad(_flat_fn(fn, shapes))(flatten(weights).detach())


def hessian(fn: ScalarFn, weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """The full ``(p, p)`` Hessian of ``fn`` at ``weights`` (row-major blocks ``W_1..W_L``).

    Memory is ``p^2`` entries; for large ``p`` use :func:`extreme_eigenvalues` instead.
    """
    shapes = shapes_of(weights)
    h = torch.func.hessian(_flat_fn(fn, shapes))(flatten(weights).detach())
    return 0.5 * (h + h.T)  # exact symmetry (autodiff leaves round-off asymmetry)


def hvp(fn: ScalarFn, weights: Sequence[torch.Tensor], vector: torch.Tensor) -> torch.Tensor:
    """The Hessian-vector product ``H v`` (``(p,)``) without forming ``H``."""
    shapes = shapes_of(weights)
    theta = flatten(weights).detach()
    if vector.shape != theta.shape:
        raise ValueError(f"vector must have shape {tuple(theta.shape)}; received {tuple(vector.shape)}")
    _, out = torch.func.jvp(torch.func.grad(_flat_fn(fn, shapes)), (theta,), (vector.to(theta.dtype),))
    return out


def lanczos(matvec: Callable[[torch.Tensor], torch.Tensor], dim: int, n_iter: int, *, dtype=torch.float64,
            device=None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Lanczos with full re-orthogonalisation for a symmetric operator of size ``dim``.

    Returns the Ritz values (ascending) and Ritz vectors ``(dim, k)`` of the Krylov space of
    dimension ``k = min(n_iter, dim)`` started from a seeded random vector. The extreme Ritz
    values converge first; with ``n_iter = dim`` they are exact up to round-off.
    """
    if dim < 1 or n_iter < 1:
        raise ValueError(f"need dim >= 1 and n_iter >= 1; received dim={dim}, n_iter={n_iter}")
    k = min(n_iter, dim)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    q = torch.randn(dim, generator=gen, dtype=dtype).to(device)
    q = q / q.norm()
    basis = torch.zeros(k, dim, dtype=dtype, device=device)
    alphas, betas = [], []
    for j in range(k):
        basis[j] = q
        w = matvec(q).to(dtype)
        alpha = torch.dot(w, q)
        w = w - basis[: j + 1].T @ (basis[: j + 1] @ w)  # full re-orthogonalisation (twice is enough)
        w = w - basis[: j + 1].T @ (basis[: j + 1] @ w)
        alphas.append(alpha)
        beta = w.norm()
        if j == k - 1 or beta < 1e-12 * max(1.0, float(abs(alpha))):
            k = j + 1
            break
        betas.append(beta)
        q = w / beta
    t = torch.diag(torch.stack(alphas))
    if betas[: k - 1]:
        off = torch.stack(betas[: k - 1])
        t = t + torch.diag(off, 1) + torch.diag(off, -1)
    vals, vecs = torch.linalg.eigh(t)
    return vals, basis[:k].T @ vecs


def extreme_eigenvalues(fn: ScalarFn, weights: Sequence[torch.Tensor], n_iter: int = 100, seed: int = 0
                        ) -> tuple[float, float]:
    """``(lambda_min, lambda_max)`` of the Hessian of ``fn`` by Lanczos on Hessian-vector products.

    Cost: ``n_iter`` Hessian-vector products (each about two gradient evaluations); memory
    ``n_iter * p``. Check the result against :func:`hessian` on a small network first.
    """
    shapes = shapes_of(weights)
    theta = flatten(weights).detach()
    grad_fn = torch.func.grad(_flat_fn(fn, shapes))

    def matvec(v):
        return torch.func.jvp(grad_fn, (theta,), (v.to(theta.dtype),))[1]

    vals, _ = lanczos(matvec, theta.numel(), n_iter, dtype=theta.dtype, device=theta.device, seed=seed)
    return float(vals[0]), float(vals[-1])


# --------------------------------------------------------------------------------------------
# numerics for large networks


def hessian_in_chunks(fn: ScalarFn, weights: Sequence[torch.Tensor], chunk_size: int = 256) -> torch.Tensor:
    """The dense ``(p, p)`` Hessian of ``fn`` from Hessian-vector products, ``chunk_size`` columns at a time.

    Each chunk is one ``torch.func.vmap`` of forward-over-reverse products ``H e_k`` over unit
    vectors, so memory is ``chunk_size`` times that of one product (:func:`hessian` vmaps over
    all ``p`` columns at once, too much for ``p`` of several thousand through 50 unrolled steps).
    Symmetrised like :func:`hessian`. Row-major blocks ``W_1..W_L``.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int; received {chunk_size!r}")
    shapes = shapes_of(weights)
    theta = flatten(weights).detach()
    p = theta.numel()

    def scalar(v: torch.Tensor) -> torch.Tensor:
        return fn(unflatten(v, shapes)).reshape(())

    grad = torch.func.grad(scalar)

    def column(v: torch.Tensor) -> torch.Tensor:
        return torch.func.jvp(grad, (theta,), (v,))[1]

    out = torch.empty(p, p, dtype=theta.dtype, device=theta.device)
    for start in range(0, p, chunk_size):
        stop = min(start + chunk_size, p)
        units = torch.zeros(stop - start, p, dtype=theta.dtype, device=theta.device)  # e_k, k in [start, stop)
        units[torch.arange(stop - start), torch.arange(start, stop)] = 1
        out[start:stop] = torch.func.vmap(column)(units)  # rows H e_k (H is symmetric)
    return 0.5 * (out + out.T)


def input_span(x: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:
    """Orthonormal basis ``Q (d_x, r)`` of the span of the inputs ``x (N, d_x)`` (``r = rank(x)``).

    The objectives of this package (loss, ``F*``, the PC energy after any number of inference
    steps) depend on ``W_1`` only through ``W_1 x_i``, so in coordinates
    ``W_1 = [U, V] [Q, Q_perp]^T`` the ``V`` part never enters: the Hessian of any of them in the
    full parameters is, up to an orthogonal change of coordinates, the Hessian for the projected
    inputs ``x Q (N, r)`` plus ``n_1 (d_x - r)`` zero eigenvalues. For a batch of 64 MNIST images
    (``d_x = 784``, ``r <= 64``) this shrinks ``p`` about tenfold and leaves the spectrum exact.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        raise ValueError(f"x must be a 2-D tensor (N, d_x); received {type(x).__name__}")
    _, s, vh = torch.linalg.svd(x, full_matrices=False)
    rank = int((s > rtol * s[0]).sum()) if s.numel() and s[0] > 0 else 0
    return vh[:rank].T
