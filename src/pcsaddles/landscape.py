"""Loss and energy landscapes on a grid of weights (Figure 2), evaluated all at once.

:func:`landscape` evaluates a function of the weights at ``center + a_i v_1 + b_j v_2 (+ ...)`` for
a whole grid with ``torch.func.vmap``; :func:`objective` gives the three functions the figure
plots (the loss, the energy after ``T`` inference steps, the equilibrated energy ``F*``);
:func:`axis_directions` and :func:`extreme_directions` give the directions (the coordinate axes of
a chain; the extreme Hessian eigenvectors of a wide network).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from reprokit import hessian

from . import dln, pc
from ._checks import check_choice
from .normalisation import REPORTS

OBJECTIVES = ("loss", "energy", "equilibrated")

__all__ = ["OBJECTIVES", "axis_directions", "extreme_directions", "landscape", "objective"]


def objective(name: str, x: torch.Tensor, y: torch.Tensor, *, n_steps: int = 50, dt: float = 0.1,
              activation: str = "linear", report: str = "paper") -> Callable[[list[torch.Tensor]], torch.Tensor]:
    """A scalar function of the weights for :func:`landscape` (written to be ``vmap``-able).

    * ``"loss"`` -- :func:`pcsaddles.dln.mse_loss` (times ``2/d_L`` for ``report="mse"``);
    * ``"energy"`` -- :func:`pcsaddles.pc.unrolled_energy`: the energy after ``n_steps`` Euler steps
      from the feed-forward pass (what the authors plot as the energy landscape);
    * ``"equilibrated"`` -- :func:`pcsaddles.dln.equilibrated_energy`, ``F*`` of Theorem 1 (linear
      networks only).
    """
    check_choice("objective", name, OBJECTIVES)
    check_choice("report", report, REPORTS)
    if name == "loss":
        scale = 2.0 / y.shape[1] if report == "mse" else 1.0
        return lambda ws: scale * dln.mse_loss(ws, x, y, activation)
    if name == "energy":
        return lambda ws: pc.unrolled_energy(ws, x, y, n_steps, dt, activation)
    if activation != "linear":
        raise ValueError(f"the equilibrated energy (Theorem 1) is for linear networks; received activation={activation!r}")
    return lambda ws: dln.equilibrated_energy(ws, x, y)


def landscape(fn: Callable[[list[torch.Tensor]], torch.Tensor], center: Sequence[torch.Tensor],
              directions: Sequence[Sequence[torch.Tensor]], coords: Sequence[torch.Tensor] | torch.Tensor,
              *, chunk_size: int | None = None) -> torch.Tensor:
    """``fn`` on a grid around ``center``: ``out[i, j, ...] = fn(center + a_i v_1 + b_j v_2 + ...)``.

    ``directions = [v_1, ..., v_k]`` (each a weight list shaped like ``center``; ``k = 2`` for a
    surface, ``3`` for a volume), ``coords`` one 1-D tensor per direction (or one tensor used for
    all). Returns a tensor of shape ``(len(coords[0]), ..., len(coords[k-1]))`` (``"ij"`` indexing).
    All grid points are evaluated at once with ``torch.func.vmap`` (``chunk_size`` bounds the
    memory), so ``fn`` must be vmappable -- e.g. one from :func:`objective`. Inference inside
    ``fn`` (``"energy"``) runs batched over the grid, without a Python loop over points.
    """
    shapes = hessian.shapes_of(center)
    theta = hessian.flatten(center).detach()  # (p,)
    if isinstance(directions, torch.Tensor) or len(directions) == 0:
        raise TypeError("directions must be a non-empty list of weight lists [v_1, ..., v_k]")
    vs = []
    for i, d in enumerate(directions):
        if hessian.shapes_of(d) != shapes:
            raise ValueError(f"direction {i} has shapes {hessian.shapes_of(d)}; expected {shapes} like the center")
        vs.append(hessian.flatten(d).detach().to(theta))
    basis = torch.stack(vs)  # (k, p)
    if isinstance(coords, torch.Tensor):
        coords = [coords] * len(vs)
    if len(coords) != len(vs):
        raise ValueError(f"need one coordinate vector per direction: {len(vs)} directions, {len(coords)} coords")
    coords = [torch.as_tensor(c).to(theta) for c in coords]
    if any(c.ndim != 1 or c.numel() == 0 for c in coords):
        raise ValueError("each coordinate vector must be a non-empty 1-D tensor")
    mesh = torch.meshgrid(*coords, indexing="ij")
    alphas = torch.stack([m.reshape(-1) for m in mesh], dim=1)  # (G, k)
    points = theta + alphas @ basis  # (G, p)

    def at(v: torch.Tensor) -> torch.Tensor:
        return fn(hessian.unflatten(v, shapes)).reshape(())

    with torch.no_grad():
        values = torch.func.vmap(at, chunk_size=chunk_size)(points)  # (G,)
    return values.reshape(*[len(c) for c in coords])


def axis_directions(weights: Sequence[torch.Tensor]) -> list[list[torch.Tensor]]:
    """One unit direction per scalar weight (row-major order of :func:`reprokit.hessian.flatten`):
    for a chain ``[w1, ..., wL]`` the coordinate axes, so :func:`landscape` with these directions
    and ``center`` 0 evaluates the function at ``(w1, w2, ...)`` directly."""
    shapes = hessian.shapes_of(weights)
    eye = torch.eye(sum(a * b for a, b in shapes), dtype=weights[0].dtype, device=weights[0].device)
    return [hessian.unflatten(row, shapes) for row in eye]


def extreme_directions(hess: torch.Tensor, shapes: Sequence[tuple[int, int]]
                       ) -> tuple[list[torch.Tensor], list[torch.Tensor], float, float]:
    """``(v_min, v_max, lambda_min, lambda_max)``: unit eigenvectors (as weight lists) of the
    smallest and largest eigenvalues of a symmetric Hessian ``(p, p)``, from
    ``torch.linalg.eigh`` (ascending eigenvalues, eigenvectors in the *columns*). When an extreme
    eigenvalue is degenerate the vector is one element of its eigenspace (the one ``eigh``
    returns); callers should say which."""
    if hess.ndim != 2 or hess.shape[0] != hess.shape[1]:
        raise ValueError(f"hess must be a square matrix; received shape {tuple(hess.shape)}")
    vals, vecs = torch.linalg.eigh(0.5 * (hess + hess.T))
    return (hessian.unflatten(vecs[:, 0], shapes), hessian.unflatten(vecs[:, -1], shapes),
            float(vals[0]), float(vals[-1]))
