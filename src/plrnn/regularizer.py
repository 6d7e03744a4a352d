"""The paper's invertibility regulariser (Eq. 5) and the share of regions with positive determinant.

Backward iteration (stable manifolds, Algorithm 2) needs the trained map to be invertible. The
paper's sufficient condition is that the Jacobians of neighbouring regions have determinants of one
sign; since the determinant of a well-trained map approximates that of an ODE flow (positive), the
regulariser pushes negative determinants up with a hinge::

    L_reg = lambda * (1 / |S_reg|) * sum_{i in S_reg} max(0, -det J_i),

``J_i`` the Jacobian of region ``i`` and ``S_reg`` a random fraction (1 % in the paper) of the regions
the batch's latent trajectories visit, at least one region per batch. Its gradient with respect to
the ALRNN's ``W`` (``J_d = diag(A) + W D``) is ``-lambda / |S_reg| * sum_{violating i} det(J_i) J_i^{-T} D_i``
(Jacobi's formula), which the tests check against finite differences.

:func:`hinge_penalty` is the formula on given Jacobians; :func:`invertibility_penalty` samples the
regions of each ensemble member and returns one penalty per member; :func:`positive_det_fraction`
measures, on a float64 model, the share of distinct regions visited by an orbit that have
``det J > 0`` (the paper's Fig. 2, left).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .models import PiecewiseAffineMap, check_states
from .torchrnn import RNNEnsemble

__all__ = ["hinge_penalty", "unique_patterns", "sample_regions", "invertibility_penalty", "positive_det_fraction",
           "region_determinants"]


def hinge_penalty(J: torch.Tensor, lam: float | torch.Tensor) -> torch.Tensor:
    """``lam * mean_i max(0, -det J_i)`` over ``J (K, M, M)`` (``K >= 1``); a scalar tensor."""
    if J.ndim != 3 or J.shape[-1] != J.shape[-2] or J.shape[0] == 0:
        raise ValueError(f"J must have shape (K, M, M) with K >= 1; received {tuple(J.shape)}")
    return lam * torch.relu(-torch.linalg.det(J)).mean()


def unique_patterns(patterns: torch.Tensor) -> torch.Tensor:
    """The distinct rows of ``patterns (..., n)`` (bool), as a ``(K, n)`` bool tensor (sorted)."""
    flat = patterns.reshape(-1, patterns.shape[-1])
    return torch.unique(flat.to(torch.uint8), dim=0).bool()


def sample_regions(patterns: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    """A random ``fraction`` of the distinct regions in ``patterns (..., n)``: ``ceil``-free rule
    ``max(1, round(fraction * K))`` of the ``K`` distinct patterns, drawn without replacement."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; received {fraction}")
    uniq = unique_patterns(patterns)
    k = max(1, int(round(fraction * uniq.shape[0])))
    idx = torch.randperm(uniq.shape[0], generator=generator)[:k]  # a CPU generator: same draws on every device
    return uniq[idx.to(uniq.device)]


def invertibility_penalty(model: RNNEnsemble, patterns: torch.Tensor, lam: Any, fraction: float,
                          generators: list[torch.Generator]) -> torch.Tensor:
    """Per-member regulariser ``(R,)``: member ``r`` samples a ``fraction`` of the regions in
    ``patterns[r] (B, T, n)`` with ``generators[r]`` and pays ``lam[r] * mean max(0, -det J)``.
    Members with ``lam[r] == 0`` pay nothing and draw nothing."""
    lam = torch.as_tensor(lam, dtype=model.dtype, device=model.device).expand(model.R)
    if patterns.shape[0] != model.R or patterns.shape[-1] != model.n_units:
        raise ValueError(f"patterns must have shape (R={model.R}, ..., {model.n_units}); received "
                         f"{tuple(patterns.shape)}")
    if len(generators) != model.R:
        raise ValueError(f"one generator per member is needed ({model.R}); received {len(generators)}")
    out = []
    for r in range(model.R):
        if float(lam[r]) == 0.0:
            out.append(torch.zeros((), dtype=model.dtype, device=model.device))
            continue
        regions = sample_regions(patterns[r], fraction, generators[r])
        out.append(hinge_penalty(model.region_jacobians(r, regions), lam[r]))
    return torch.stack(out)


def region_determinants(model: PiecewiseAffineMap, states: Any) -> tuple[np.ndarray, np.ndarray]:
    """The distinct regions visited by ``states (..., M)`` and their ``det J``: ``(codes (K,), dets (K,))``."""
    states = check_states(states, model.M, "states")
    codes = np.unique(model.region_id(states.reshape(-1, model.M)))
    J, _ = model.affine_of_code(codes)
    return codes, np.linalg.det(J)


def positive_det_fraction(model: PiecewiseAffineMap, states: Any) -> float:
    """Share of the distinct regions visited by ``states (..., M)`` with ``det J > 0`` (paper Fig. 2)."""
    _, dets = region_determinants(model, states)
    return float(np.mean(dets > 0))
