"""Input checks of Part I's primitives: a batch against a network, hidden activities.

The generic checks (weights that chain, names from a list) are :mod:`reprokit.checks`; they are
re-exported here so the modules of this package import their checks from one place.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from reprokit.checks import FLOAT_DTYPES, check_choice, check_weights

__all__ = ["FLOAT_DTYPES", "check_activities", "check_choice", "check_data", "check_weights"]


def check_data(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor | None = None) -> list[int]:
    """Validate a network and a batch ``x (N, d_0)``, ``y (N, d_L)``; return the widths."""
    widths = check_weights(weights)
    ref = weights[0]
    for name, t, d in (("x", x, widths[0]), ("y", y, widths[-1])):
        if t is None:
            continue
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape (N, {d}); received {type(t).__name__}")
        if t.ndim != 2 or t.shape[1] != d:
            raise ValueError(
                f"{name} must have shape (N, {d}) to match the network widths {widths}; "
                f"received shape {tuple(t.shape)}"
            )
        if t.dtype != ref.dtype:
            raise TypeError(f"{name} has dtype {t.dtype} but the weights are {ref.dtype}; use {name}.to({ref.dtype})")
        if t.device != ref.device:
            raise ValueError(f"{name} is on {t.device} but the weights are on {ref.device}")
    if y is not None and x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must hold the same number of examples; received N={x.shape[0]} and N={y.shape[0]}")
    if x.shape[0] == 0:
        raise ValueError("the batch is empty: x has shape (0, d_0)")
    return widths


def check_activities(widths: list[int], activities: Sequence[torch.Tensor], n: int, ref: torch.Tensor) -> None:
    """Validate hidden activities ``[z_1, ..., z_H]`` with ``z_l`` of shape ``(N, d_l)``."""
    hidden = widths[1:-1]
    if isinstance(activities, torch.Tensor) or not isinstance(activities, Sequence):
        raise TypeError(
            f"activities must be a list [z_1, ..., z_H] of {len(hidden)} tensors; received {type(activities).__name__}"
        )
    if len(activities) != len(hidden):
        raise ValueError(
            f"the network has H={len(hidden)} hidden layers (widths {widths}), so activities must be a list of "
            f"{len(hidden)} tensors [z_1, ..., z_H]; received {len(activities)}"
        )
    for i, (z, d) in enumerate(zip(activities, hidden), start=1):
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"z_{i} must be a torch.Tensor of shape ({n}, {d}); received {type(z).__name__}")
        if tuple(z.shape) != (n, d):
            raise ValueError(f"z_{i} must have shape ({n}, {d}); received {tuple(z.shape)}")
        if z.dtype != ref.dtype:
            raise TypeError(f"z_{i} has dtype {z.dtype} but the weights are {ref.dtype}")
