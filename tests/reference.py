"""Independent reference implementations shared by the unit tests.

Everything here is written from the mathematics of the paper (and SPEC 1.x), in plain numpy or
plain torch, and deliberately imports nothing from :mod:`pcsaddles`: the tests compare the
package against these functions, so they must not share code with it. Where the package uses a
closed form or a factorisation, the reference takes a different route (explicit products and
``numpy.linalg.inv`` instead of a Cholesky solve, a dense linear solve instead of the closed-form
equilibrium, loops over index formulas instead of Kronecker algebra, finite differences instead
of autodiff).

Conventions: a network is a list ``[W_1, ..., W_L]`` with ``W_l`` of shape ``(d_l, d_{l-1})``;
data are ``x`` of shape ``(N, d_0)`` and ``y`` of shape ``(N, d_L)``; losses and energies carry
the paper's 1/(2N) normalisation; a parameter vector is the row-major ``vec`` of every layer in
layer order (SPEC 1.7).
"""

from __future__ import annotations

import numpy as np
import torch

F64 = torch.float64

# ------------------------------------------------------------------------------------------------
# fixtures: random networks and data, conversion to torch

# activation and derivative, in numpy; the output layer is always linear
NP_ACT = {
    "linear": (lambda a: a, lambda a: np.ones_like(a)),
    "tanh": (np.tanh, lambda a: 1 - np.tanh(a) ** 2),
    "relu": (lambda a: np.maximum(a, 0), lambda a: (a > 0).astype(a.dtype)),
}
# the same activations in torch (for autograd of separately written energies)
TORCH_ACT = {"linear": lambda a: a, "tanh": torch.tanh, "relu": torch.relu}


def random_net(widths, std=0.7, seed=0):
    """Numpy weights ``W_l ~ N(0, std^2)`` entrywise, shapes ``(d_l, d_{l-1})``, from one seeded stream."""
    rng = np.random.default_rng(seed)
    return [std * rng.standard_normal((d_out, d_in)) for d_in, d_out in zip(widths[:-1], widths[1:])]


def random_data(d_x, d_y, n, seed=1):
    """Standard-normal numpy inputs ``x`` (N, d_x) and targets ``y`` (N, d_y), x drawn first."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d_x)), rng.standard_normal((n, d_y))


def tt(arrays, dtype=F64):
    """One numpy array as a torch tensor, or a list/tuple of arrays as a list of tensors."""
    if isinstance(arrays, np.ndarray):
        return torch.tensor(arrays, dtype=dtype)
    return [torch.tensor(a, dtype=dtype) for a in arrays]


def zeros(widths, dtype=F64):
    """The origin theta = 0 as a list of torch zero matrices of shapes ``(d_l, d_{l-1})``."""
    return [torch.zeros(b, a, dtype=dtype) for a, b in zip(widths[:-1], widths[1:])]


def np_unflatten(theta, widths):
    """Split a row-major parameter vector (SPEC 1.7 layout) into numpy matrices ``W_1, ..., W_L``."""
    out, k = [], 0
    for a, b in zip(widths[:-1], widths[1:]):
        out.append(theta[k : k + a * b].reshape(b, a))  # row-major, as W.ravel()
        k += a * b
    return out


# ------------------------------------------------------------------------------------------------
# deep linear networks: products, loss, rescaling S, Eq. 5


def prod(ws, k, l):
    """W_{k:l} = W_k ... W_l (1-based) by explicit products; the identity of size d_k when l = k + 1."""
    if l == k + 1:
        return np.eye(ws[k - 1].shape[0])
    out = ws[l - 1]
    for i in range(l + 1, k + 1):
        out = ws[i - 1] @ out
    return out


def rescaling_ref(ws):
    """S = I + sum_{l=2}^{L} W_{L:l} W_{L:l}^T (Theorem 1), summed term by term."""
    L = len(ws)
    s = np.eye(ws[-1].shape[0])
    for l in range(2, L + 1):
        p = prod(ws, L, l)
        s = s + p @ p.T
    return s


def loss_ref(ws, x, y):
    """Eq. 1 for a linear network: 1/(2N) sum_i ||y_i - W_{L:1} x_i||^2."""
    r = y.T - prod(ws, len(ws), 1) @ x.T  # (d_y, N)
    return 0.5 * np.sum(r**2) / x.shape[0]


def eq5_ref(ws, x, y):
    """Theorem 1, Eq. 5: F* = 1/(2N) sum_i r_i^T S^{-1} r_i with r_i = y_i - W_{L:1} x_i, using an
    explicit ``numpy.linalg.inv`` of S."""
    r = y.T - prod(ws, len(ws), 1) @ x.T
    return 0.5 * np.einsum("in,ij,jn->", r, np.linalg.inv(rescaling_ref(ws)), r) / x.shape[0]


def torch_fstar(ws, x, y):
    """Eq. 5 in torch (differentiable) with explicit products, an explicit inverse of S and the
    residual moment r r^T: a different route from the package's Cholesky form."""
    w_end = ws[0]
    for w in ws[1:]:
        w_end = w @ w_end
    s = torch.eye(ws[-1].shape[0], dtype=ws[0].dtype)
    for l in range(1, len(ws)):
        p = ws[l]
        for w in ws[l + 1 :]:
            p = w @ p
        s = s + p @ p.T
    r = y.T - w_end @ x.T
    return 0.5 * torch.trace(torch.linalg.inv(s) @ (r @ r.T)) / x.shape[0]


# ------------------------------------------------------------------------------------------------
# predictive coding: forward pass, errors, energy (Eq. 2), linear equilibrium


def feedforward_ref(ws, x, activation="linear"):
    """Hidden activities of the feed-forward pass, z_l = f(W_l z_{l-1}) for l = 1..H (numpy)."""
    f = NP_ACT[activation][0]
    z, out = x, []
    for w in ws[:-1]:
        z = f(z @ w.T)
        out.append(z)
    return out


def errors_ref(ws, zs, x, y, activation="linear"):
    """Prediction errors e_l = z_l - f(W_l z_{l-1}) with z_0 = x, z_L = y and a linear output layer."""
    f = NP_ACT[activation][0]
    layers = [x, *zs, y]
    last = len(ws) - 1
    return [layers[i + 1] - (layers[i] @ w.T if i == last else f(layers[i] @ w.T)) for i, w in enumerate(ws)]


def energy_ref(ws, zs, x, y, activation="linear"):
    """Eq. 2: F = 1/(2N) sum_i sum_l ||e_l||^2 at given hidden activities ``zs`` (each (N, d_l))."""
    return 0.5 * sum(np.sum(e**2) for e in errors_ref(ws, zs, x, y, activation)) / x.shape[0]


def dense_equilibrium(ws, x, y):
    """Solve dF_i/du = 0 for u = [z_1; ...; z_H] of every example with one dense linear system (SPEC 1.8).

    For a linear network F_i = 1/2 sum_l ||z_l - W_l z_{l-1}||^2 is quadratic in u with Hessian A
    (block-tridiagonal: diagonal blocks I + W_{l+1}^T W_{l+1}, off-diagonal -W_{l+1} below and
    -W_{l+1}^T above) and linear term b (first block W_1 x, last block W_L^T y); returns the
    activities ``[z_1, ..., z_H]`` of the equilibrium, each (N, d_l).
    """
    hidden = [w.shape[0] for w in ws[:-1]]
    offsets = np.concatenate([[0], np.cumsum(hidden)])
    a = np.zeros((offsets[-1], offsets[-1]))
    b = np.zeros((offsets[-1], x.shape[0]))
    for l in range(len(hidden)):  # hidden layer l + 1 (1-based)
        sl = slice(offsets[l], offsets[l + 1])
        w_next = ws[l + 1]
        a[sl, sl] = np.eye(hidden[l]) + w_next.T @ w_next
        if l + 1 < len(hidden):
            sn = slice(offsets[l + 1], offsets[l + 2])
            a[sn, sl] = -w_next
            a[sl, sn] = -w_next.T
    b[offsets[0] : offsets[1]] += ws[0] @ x.T
    b[offsets[-2] : offsets[-1]] += ws[-1].T @ y.T
    u = np.linalg.solve(a, b)  # (dim, N)
    return [u[offsets[l] : offsets[l + 1]].T for l in range(len(hidden))]


# ------------------------------------------------------------------------------------------------
# Hessians at the origin (Eqs. 7, 8), written entry by entry from the index formulas of SPEC 1.7


def moments(x, y):
    """Uncentred data moments Sxy = X^T Y / N and Syy = Y^T Y / N as numpy arrays (numpy or CPU torch input)."""
    x, y = np.asarray(x), np.asarray(y)
    n = x.shape[0]
    return x.T @ y / n, y.T @ y / n


def eq7_cross_by_index(widths, sxy):
    """The H = 1 cross block at the origin, d^2/dW1[a,b] dW2[i,j] = -delta_aj Sxy[b, i], as a
    (n_1 d_x, d_y n_1) matrix filled by a loop over its index formula."""
    d_x, n1, d_y = widths
    c = np.zeros((n1 * d_x, d_y * n1))
    for a in range(n1):
        for b in range(d_x):
            for i in range(d_y):
                c[a * d_x + b, i * n1 + a] = -sxy[b, i]
    return c


def origin_hessian_by_index(widths, sxy, syy):
    """Hessian at theta = 0 from moments, entry by entry: -Syy[i,k] delta_jm on the W_L block
    and, for H = 1, the cross block of :func:`eq7_cross_by_index`; zero elsewhere. With the true
    Syy this is Eq. 8 (energy); with Syy = 0 it is Eq. 7 (loss)."""
    sizes = [a * b for a, b in zip(widths[:-1], widths[1:])]
    off = np.concatenate([[0], np.cumsum(sizes)])
    h = np.zeros((off[-1], off[-1]))
    n_last, d_y, last = widths[-2], widths[-1], off[-2]
    for i in range(d_y):
        for j in range(n_last):
            for k in range(d_y):
                h[last + i * n_last + j, last + k * n_last + j] = -syy[i, k]
    if len(widths) == 3:
        h[:last, last:] = eq7_cross_by_index(widths, sxy)
        h[last:, :last] = h[:last, last:].T
    return h


def eq8_by_index(widths, x, y):
    """Eq. 8, the energy Hessian at the origin, entry by entry from the data (see
    :func:`origin_hessian_by_index`)."""
    return origin_hessian_by_index(widths, *moments(x, y))


# ------------------------------------------------------------------------------------------------
# central finite differences


def fd_grad(fun, ws, h=1e-6):
    """Central differences (error O(h^2)) of a scalar ``fun(list of numpy matrices)``, one entry at a
    time; returns one gradient matrix per layer."""
    grads = []
    for l, w in enumerate(ws):
        g = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            plus = [v.copy() for v in ws]
            minus = [v.copy() for v in ws]
            plus[l][idx] += h
            minus[l][idx] -= h
            g[idx] = (fun(plus) - fun(minus)) / (2 * h)
        grads.append(g)
    return grads


def fd_hessian(fun, widths, at=None, h=1e-4):
    """Central second differences (error O(h^2)) of a scalar ``fun(list of numpy matrices)`` in the
    row-major parameter vector, at the flat point ``at`` (default theta = 0)."""
    p = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    theta = np.zeros(p) if at is None else np.asarray(at, dtype=float)
    out = np.zeros((p, p))
    for i in range(p):
        for j in range(i, p):
            vals = []
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                t = theta.copy()
                t[i] += si * h
                t[j] += sj * h
                vals.append(fun(np_unflatten(t, widths)))
            out[i, j] = out[j, i] = (vals[0] - vals[1] - vals[2] + vals[3]) / (4 * h * h)
    return out
