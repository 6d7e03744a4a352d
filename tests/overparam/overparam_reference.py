"""Independent references for the tests of :mod:`overparam`.

Written from the paper's equations in plain numpy/torch, importing nothing from ``overparam``:
the base costs and their derivatives from their definitions, the gradient of ``g`` by torch
autograd through the explicit product (the package uses Eq. 4) and by central differences, the
Hessian by central differences of a gradient, and the equilibrated energy of Part I's Eq. 5 with
complex arithmetic (so the complex-step derivative gives gradients exact to round-off).
"""

from __future__ import annotations

import numpy as np
import torch

A = np.array([[1.0, 0.5], [-0.3, 2.0]])
B = np.array([[2.0, 0.3], [0.3, 1.0]])

# f(W) for W a torch tensor, written from the definitions
TORCH_COSTS = {
    "quadratic": lambda w: 0.5 * ((w - torch.from_numpy(A)) ** 2).sum(),
    "log-cosh": lambda w: torch.log(torch.cosh(w - torch.from_numpy(A))).sum(),
    "quartic": lambda w: 0.25 * ((w.T @ w - torch.from_numpy(B)) ** 2).sum(),
    "cosh": lambda w: torch.cosh(w - torch.from_numpy(A)).sum(),
}

# scalar costs: (f, f') in numpy, from their definitions
SCALAR = {
    "(1-z)^2": (lambda z: (1 - z) ** 2, lambda z: -2 * (1 - z)),
    "(1-z)^2/2": (lambda z: 0.5 * (1 - z) ** 2, lambda z: -(1 - z)),
    "cosh(z-2)": (lambda z: np.cosh(z - 2), lambda z: np.sinh(z - 2)),
    "(z+2)^2/2": (lambda z: 0.5 * (z + 2) ** 2, lambda z: z + 2),
    "tilted quartic": (lambda z: z**4 / 4 - z**2 / 2 + 0.2 * z, lambda z: z**3 - z + 0.2),
}


def random_weights(widths, std=0.7, seed=0):
    rng = np.random.default_rng(seed)
    return [std * rng.standard_normal((b, a)) for a, b in zip(widths[:-1], widths[1:])]


def explicit_product(ws):
    """``W_N ⋯ W_1`` by numpy's multi_dot of the reversed list."""
    return np.linalg.multi_dot(ws[::-1]) if len(ws) > 2 else ws[1] @ ws[0]


def autograd_gradient(torch_cost, ws):
    """``∂g/∂W_i`` by torch autograd through ``cost(W_N @ ... @ W_1)``."""
    params = [torch.tensor(w, requires_grad=True) for w in ws]
    prod = params[0]
    for p in params[1:]:
        prod = p @ prod
    grads = torch.autograd.grad(torch_cost(prod), params)
    return [g.numpy() for g in grads]


def fd_gradient(fun, ws, h=1e-6):
    """Central differences of a scalar numpy function of a weight list."""
    out = []
    for i, w in enumerate(ws):
        g = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            plus = [x.copy() for x in ws]
            minus = [x.copy() for x in ws]
            plus[i][idx] += h
            minus[i][idx] -= h
            g[idx] = (fun(plus) - fun(minus)) / (2 * h)
        out.append(g)
    return out


def torch_value(torch_cost, ws):
    with torch.no_grad():
        prod = torch.from_numpy(explicit_product(ws))
        return float(torch_cost(prod))


def fd_hessian_of_gradient(grad_fun, theta, h=1e-5):
    """Symmetrised central-difference Hessian of a flat gradient function."""
    p = theta.size
    hess = np.zeros((p, p))
    for j in range(p):
        e = np.zeros(p)
        e[j] = h
        hess[:, j] = (grad_fun(theta + e) - grad_fun(theta - e)) / (2 * h)
    return 0.5 * (hess + hess.T)


def complex_energy(ws, x, y):
    """Part I's Eq. 5, ``F* = 1/(2B) Σ_b r_bᵀ S⁻¹ r_b`` (no conjugation: analytic in the weights),
    with ``S = I + Σ_{l>=2} W_{L:l} W_{L:l}ᵀ`` (transposes, not adjoints), by an explicit solve."""
    depth, d_out = len(ws), ws[-1].shape[0]
    s = np.eye(d_out, dtype=complex)
    for ell in range(2, depth + 1):
        m = np.eye(d_out, dtype=complex)
        for j in range(depth, ell - 1, -1):  # W_L W_{L-1} ... W_ell
            m = m @ ws[j - 1]
        s = s + m @ m.T
    prod = np.eye(d_out, dtype=complex)
    for j in range(depth, 0, -1):
        prod = prod @ ws[j - 1]
    r = y.T - prod @ x.T  # (d_L, B)
    return 0.5 * np.sum(r * np.linalg.solve(s, r)) / x.shape[0]


def complex_step_gradient(fun, ws, h=1e-30):
    """``∂F/∂θ_j = Im F(θ + i h e_j) / h`` (exact to round-off for analytic ``F``)."""
    out = []
    for i, w in enumerate(ws):
        g = np.zeros(w.shape)
        for idx in np.ndindex(w.shape):
            pert = [x.astype(complex) for x in ws]
            pert[i][idx] += 1j * h
            g[idx] = fun(pert).imag / h
        out.append(g)
    return out
