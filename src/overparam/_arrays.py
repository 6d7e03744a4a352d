"""Input handling at the package's public boundary.

Public functions take weights as numpy arrays or torch tensors (float64 by default; other
floating or integer inputs are converted to float64) and return results of the kind of their
first weight: a list of numpy arrays for numpy input, of float64 torch tensors for torch input.
Bad input raises ValueError/TypeError naming what was expected and what was received.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

Kind = str  # "numpy" or "torch"


def kind_of(obj: Any) -> Kind:
    return "torch" if isinstance(obj, torch.Tensor) else "numpy"


def to_numpy(value: Any, name: str) -> np.ndarray:
    """``value`` as a float64 numpy array (a copy-free view where possible); TypeError if it is not numeric."""
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            raise TypeError(f"{name} must be real; received a complex tensor of dtype {value.dtype}")
        return value.detach().to("cpu", torch.float64).numpy()
    try:
        arr = np.asarray(value)
    except Exception as err:  # noqa: BLE001 - reported as a TypeError naming the value
        raise TypeError(f"{name} must be a numpy array or torch tensor of real numbers; received {type(value).__name__}") from err
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers (float or int); received dtype {arr.dtype} ({type(value).__name__})")
    return arr.astype(np.float64, copy=False)


def like(kind: Kind, arr: np.ndarray) -> np.ndarray | torch.Tensor:
    """``arr`` returned as the caller's kind (a float64 torch tensor for ``"torch"``)."""
    if kind == "torch":
        return torch.from_numpy(np.array(arr, dtype=np.float64))
    return np.asarray(arr, dtype=np.float64)


def as_weights(weights: Any, *, min_depth: int = 2) -> tuple[list[np.ndarray], Kind]:
    """Validate ``[W_1, ..., W_N]`` (``W_l`` of shape ``(d_l, d_{l-1})``, at least ``min_depth``
    factors, consecutive shapes chaining, finite entries); return float64 numpy copies and the kind
    of ``W_1`` (the kind results are returned in)."""
    if isinstance(weights, (np.ndarray, torch.Tensor)) or not isinstance(weights, Sequence) or isinstance(weights, str):
        raise TypeError(
            "weights must be a list [W_1, ..., W_N] of 2-D arrays with W_l of shape (d_l, d_{l-1}); "
            f"received {type(weights).__name__}"
        )
    if len(weights) < min_depth:
        raise ValueError(
            f"weights must hold at least {min_depth} factors [W_1, ..., W_N] (depth N >= {min_depth}: the problem is "
            f"compositional); received {len(weights)}"
        )
    out: list[np.ndarray] = []
    for i, w in enumerate(weights, start=1):
        arr = np.array(to_numpy(w, f"W_{i}"), dtype=np.float64)  # a private copy
        if arr.ndim != 2:
            raise ValueError(f"W_{i} must be 2-D with shape (d_{i}, d_{i - 1}); received shape {arr.shape}")
        if 0 in arr.shape:
            raise ValueError(f"W_{i} must have non-zero dimensions; received shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"W_{i} must have finite entries; received {int((~np.isfinite(arr)).sum())} non-finite")
        if out and arr.shape[1] != out[-1].shape[0]:
            raise ValueError(
                f"incompatible shapes: W_{i} has shape {arr.shape} but W_{i - 1} has shape {out[-1].shape}, so W_{i} "
                f"must have shape (d_{i}, {out[-1].shape[0]})"
            )
        out.append(arr)
    return out, kind_of(weights[0])


def check_time(name: str, value: Any) -> float:
    """A finite, non-negative time."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number >= 0; received {type(value).__name__} {value!r}")
    x = float(value)
    if not np.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be a finite time >= 0; received {x}")
    return x
