"""Deep linear networks: loss, rescaling matrix and the equilibrated energy (Theorem 1).

Conventions (shared by the whole package):

* ``weights = [W1, ..., WL]`` with ``W_l`` of shape ``(d_l, d_{l-1})``, no biases; ``H = L - 1``
  hidden layers.
* A batch is ``x`` of shape ``(N, d_0)`` and ``y`` of shape ``(N, d_L)`` (examples in rows), so a
  layer maps ``z_{l-1} (N, d_{l-1})`` to ``z_{l-1} @ W_l.T (N, d_l)``.
* Losses and energies use the paper's normalisation ``1/(2N) sum_i`` (Eqs. 1 and 2).
* An activation applies to hidden layers only; the output layer is linear.
* float32 and float64 both work; results keep the dtype of the weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._checks import check_data, check_weights
from .activations import get_activation


def end_to_end(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """The end-to-end map ``W_{L:1} = W_L ... W_1`` of shape ``(d_L, d_0)``."""
    check_weights(weights)
    product = weights[0]
    for w in weights[1:]:
        product = w @ product
    return product


def forward(weights: Sequence[torch.Tensor], x: torch.Tensor, activation: str = "linear") -> list[torch.Tensor]:
    """Feed-forward pass: ``[z_1, ..., z_L]`` with ``z_l = f(z_{l-1} W_l^T)`` (output layer linear).

    Shapes: ``x (N, d_0)``; ``z_l (N, d_l)``. These are also PC's initial activities.
    """
    check_data(weights, x)
    act = get_activation(activation)
    z, layers = x, []
    for i, w in enumerate(weights):
        a = z @ w.T  # (N, d_l)
        z = a if i == len(weights) - 1 else act.f(a)
        layers.append(z)
    return layers


def mse_loss(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor, activation: str = "linear") -> torch.Tensor:
    """The paper's MSE loss (Eq. 1): ``L = 1/(2N) sum_i ||y_i - f_theta(x_i)||^2``.

    For a linear network ``f_theta(x) = W_{L:1} x``. Note the normalisation: the authors' PyTorch
    code reports ``nn.MSELoss`` (mean over ``N d_L`` entries, no 1/2), which is ``2/d_L`` times this
    value (see :mod:`pcsaddles.normalisation` for the authors' other normalisations).
    """
    check_data(weights, x, y)
    out = forward(weights, x, activation)[-1]
    return 0.5 * (y - out).pow(2).sum() / x.shape[0]


def rescaling(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """The rescaling matrix of Theorem 1: ``S = I_{d_L} + sum_{l=2}^{L} W_{L:l} W_{L:l}^T``.

    ``S`` has shape ``(d_L, d_L)`` and is symmetric positive definite (``S >= I``). It is the
    covariance of the output under the network's implicit generative model (Appendix A.3.2). For a
    one-layer network (``L = 1``) ``S = I``.
    """
    check_weights(weights)
    d_out = weights[-1].shape[0]
    ref = weights[-1]
    s = torch.eye(d_out, dtype=ref.dtype, device=ref.device)
    partial = torch.eye(d_out, dtype=ref.dtype, device=ref.device)  # W_{L:l+1}, starting at I
    for w in reversed(weights[1:]):  # l = L, L-1, ..., 2
        partial = partial @ w  # W_{L:l}, shape (d_L, d_{l-1})
        s = s + partial @ partial.T
    return s


def equilibrated_energy(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Theorem 1 (Eq. 5): the PC energy at the exact inference equilibrium of a linear network,

    ``F* = 1/(2N) sum_i (y_i - W_{L:1} x_i)^T S^{-1} (y_i - W_{L:1} x_i)``,

    with ``S`` from :func:`rescaling`. Differentiable in the weights (autograd and ``torch.func``),
    evaluated with a Cholesky factor of ``S`` rather than an explicit inverse.
    """
    check_data(weights, x, y)
    residual = y - x @ end_to_end(weights).T  # (N, d_L)
    chol = torch.linalg.cholesky(rescaling(weights))
    whitened = torch.linalg.solve_triangular(chol, residual.T, upper=False)  # (d_L, N) = C^{-1} r
    return 0.5 * whitened.pow(2).sum() / x.shape[0]


def activity_hessian(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """The Hessian of one example's energy ``F_i`` in the hidden activities of a linear network.

    Block-tridiagonal: diagonal blocks ``I + W_{l+1}^T W_{l+1}``, off-diagonal blocks
    ``-W_{l+1}`` (below) and ``-W_{l+1}^T`` (above), for hidden layers ``l = 1..H``; shape
    ``(sum_l d_l, sum_l d_l)``. It is the same for every example and sets the speed of inference:
    Euler with step ``dt`` is stable iff ``dt < 2 / lambda_max`` and converges like
    ``(1 - dt lambda_min)^t``.
    """
    widths = check_weights(weights)
    hidden = widths[1:-1]
    if not hidden:
        raise ValueError(f"the network {widths} has no hidden layer, so there are no activities")
    ref = weights[0]
    offsets = [0]
    for d in hidden:
        offsets.append(offsets[-1] + d)
    hess = torch.zeros(offsets[-1], offsets[-1], dtype=ref.dtype, device=ref.device)
    for i, d in enumerate(hidden):  # hidden layer l = i + 1, fed forward by W_{l+1} = weights[i + 1]
        w_next = weights[i + 1]  # (d_{l+1}, d_l)
        a, b = offsets[i], offsets[i + 1]
        hess[a:b, a:b] = torch.eye(d, dtype=ref.dtype, device=ref.device) + w_next.T @ w_next
        if i + 1 < len(hidden):
            c = offsets[i + 2]
            hess[b:c, a:b] = -w_next
            hess[a:b, b:c] = -w_next.T
    return hess
