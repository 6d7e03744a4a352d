"""Input checks shared by every part of the book.

Public functions validate their arguments at the boundary, so that a wrong shape or an unknown
name fails with a message that says what was expected, what was received and how to fix it --
instead of a broadcasting error deep inside a loop. Part-specific checks (a batch against a
network, hidden activities) live in their part's package and build on these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

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


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise raise a ValueError listing them."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {list(choices)}; received {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {list(choices)}")
    return value


def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """Return ``value`` if it is an int ``>= minimum`` (bools refused); otherwise raise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= {minimum}; received {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; received {value}")
    return value


def check_finite_number(name: str, value: Any, *, minimum: float | None = None, strict: bool = False) -> float:
    """Return ``float(value)`` if it is a finite real number (``>= minimum``, or ``> minimum`` with
    ``strict``); otherwise raise a ValueError/TypeError naming the received value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not (
        hasattr(value, "item") and getattr(value, "ndim", 1) == 0
    ):
        raise TypeError(f"{name} must be a real number; received {type(value).__name__} {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite; received {x}")
    if minimum is not None and (x < minimum or (strict and x == minimum)):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}; received {x}")
    return x
