"""Input validation shared by the public functions.

Every public function of the package validates its arguments here, at the boundary, so that a
wrong shape or an unknown name fails with a message that says what was expected, what was
received, and how to fix it -- instead of a broadcasting error deep inside a loop.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

FLOAT_DTYPES = (torch.float32, torch.float64)


def check_weights(weights: Sequence[torch.Tensor]) -> list[int]:
    """Validate ``[W1, ..., WL]`` and return the widths ``[d_0, d_1, ..., d_L]``.

    ``W_l`` must be a 2-D floating tensor of shape ``(d_l, d_{l-1})``; consecutive shapes must
    chain, and all weights must share one dtype (float32 or float64) and one device.
    """
    if isinstance(weights, torch.Tensor) or not isinstance(weights, Sequence):
        raise TypeError(
            "weights must be a list [W1, ..., WL] of 2-D tensors with W_l of shape (d_l, d_{l-1}); "
            f"received {type(weights).__name__}"
        )
    if len(weights) == 0:
        raise ValueError("weights must contain at least one matrix [W1, ..., WL]; received an empty list")
    widths: list[int] = []
    for i, w in enumerate(weights, start=1):
        if not isinstance(w, torch.Tensor):
            raise TypeError(
                f"W{i} must be a torch.Tensor of shape (d_{i}, d_{i - 1}); received {type(w).__name__} "
                "(convert with torch.as_tensor(w, dtype=torch.float64))"
            )
        if w.ndim != 2:
            raise ValueError(f"W{i} must be 2-D with shape (d_{i}, d_{i - 1}); received shape {tuple(w.shape)}")
        if w.dtype not in FLOAT_DTYPES:
            raise TypeError(f"W{i} must be float32 or float64; received {w.dtype}")
        if i == 1:
            widths.append(w.shape[1])
        elif w.shape[1] != widths[-1]:
            raise ValueError(
                f"W{i} has shape {tuple(w.shape)} but W{i - 1} outputs {widths[-1]} units: "
                f"W{i} must have shape (d_{i}, {widths[-1]})"
            )
        widths.append(w.shape[0])
    dtypes = {w.dtype for w in weights}
    if len(dtypes) > 1:
        raise TypeError(f"all weights must share one dtype; received {sorted(str(d) for d in dtypes)}")
    devices = {w.device for w in weights}
    if len(devices) > 1:
        raise ValueError(f"all weights must be on one device; received {sorted(str(d) for d in devices)}")
    return widths


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


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise raise a ValueError listing them."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {list(choices)}; received {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {list(choices)}")
    return value
