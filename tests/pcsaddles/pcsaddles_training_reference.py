"""Independent references for the training tests (test_train, test_normalisation, test_landscape).

The objectives of the BP-vs-PC chapters written out here without the package: the paper's
``1/(2N)`` loss (Eq. 1), ``nn.MSELoss`` (``torch.nn.functional.mse_loss``), the authors' PC batch
*sum* ``1/2 sum ||r||^2``, and Theorem 1 with an explicit inverse; gradients by torch.autograd.
Imported by the tests after inserting this folder into ``sys.path``.
"""

from __future__ import annotations

import torch

from reference import TORCH_ACT

F64 = torch.float64


def net(widths, std=0.5, seed=0, dtype=F64):
    gen = torch.Generator().manual_seed(seed)
    return [(std * torch.randn(o, i, generator=gen, dtype=F64)).to(dtype) for i, o in zip(widths[:-1], widths[1:])]


def batch(d_x, d_y, n, seed=1, dtype=F64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d_x, generator=gen, dtype=F64).to(dtype), torch.randn(n, d_y, generator=gen, dtype=F64).to(dtype)


def predict(ws, x, activation="linear"):
    z = x
    for i, w in enumerate(ws):
        z = z @ w.T
        if i < len(ws) - 1:
            z = TORCH_ACT[activation](z)
    return z


def objective_ref(kind, ws, x, y, activation="linear"):
    """The objectives of the paper (Eq. 1) and of the authors' code, written out independently of the package."""
    r = y - predict(ws, x, activation)
    if kind == "paper":  # Eq. 1: 1/(2N) sum_i ||r_i||^2
        return 0.5 * (r**2).sum(dim=1).mean()
    if kind == "mse":  # nn.MSELoss: mean over the N d_y entries, no 1/2
        return torch.nn.functional.mse_loss(predict(ws, x, activation), y)
    if kind == "half_sum":  # 1/2 sum over the batch (the authors' PC normalisation)
        return 0.5 * (r**2).sum()
    raise ValueError(kind)


def autograd(fn, ws):
    leaves = [w.detach().clone().requires_grad_(True) for w in ws]
    return list(torch.autograd.grad(fn(leaves), leaves))


def equilibrated_ref(ws, x, y):
    """Theorem 1 with an explicit inverse: 1/(2N) sum_i r_i^T S^{-1} r_i, S = I + sum_{l>=2} W_{L:l} W_{L:l}^T."""
    d_y = ws[-1].shape[0]
    s = torch.eye(d_y, dtype=ws[0].dtype)
    for l in range(1, len(ws)):
        prod = torch.eye(d_y, dtype=ws[0].dtype)
        for w in reversed(ws[l:]):
            prod = prod @ w
        s = s + prod @ prod.T
    e2e = ws[0]
    for w in ws[1:]:
        e2e = w @ e2e
    r = y - x @ e2e.T
    return 0.5 * torch.einsum("ni,ij,nj->n", r, torch.linalg.inv(s), r).mean()


def max_diff(a, b):
    return max(float((u - v).abs().max()) for u, v in zip(a, b))
