"""Part I's plot panels: loss and energy landscapes over a 2-D grid of weights (Figure 2).

:func:`landscape_heatmap` draws a loss or energy surface, :func:`draw_path` a training
trajectory on it and :func:`mark_saddle` the saddle (the origin). The book-wide palette and
style are :mod:`reprokit.plotting` (re-exported here).
"""

from __future__ import annotations

import numpy as np

from reprokit.plotting import COLORS, use_book_style

__all__ = ["COLORS", "draw_path", "landscape_heatmap", "mark_saddle", "use_book_style"]


def landscape_heatmap(ax, values, xs, ys, title: str, vmax: float, colorbar: bool = True):
    """A landscape panel: ``values[i, j]`` at ``(xs[i], ys[j])`` in grey, clipped at ``vmax`` so
    that the neighbourhood of the saddle has contrast, with 10 contour lines between 0 and
    ``vmax`` (none for a constant surface). Adds a colour bar unless ``colorbar=False``; returns
    the ``QuadMesh`` (for a shared colour bar)."""
    mesh = ax.pcolormesh(xs, ys, values.T, cmap="Greys", shading="auto", vmin=0, vmax=vmax)
    if np.ptp(values) > 1e-12:
        ax.contour(xs, ys, values.T, levels=np.linspace(0, vmax, 11)[1:], colors="k", linewidths=0.4, alpha=0.6)
    ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, shrink=0.85, pad=0.02, extend="max")
    return mesh


def draw_path(ax, coords, color, label: str) -> None:
    """A trajectory ``coords (n, 2)`` as connected dots, its start a diamond and its end a cross."""
    ax.plot(coords[:, 0], coords[:, 1], "-o", color=color, ms=2.5, lw=1, label=label)
    ax.plot(*coords[0], "D", color=color, ms=6, mec="k", mew=0.6)
    ax.plot(*coords[-1], "X", color=color, ms=8, mec="k", mew=0.6)


def mark_saddle(ax, x: float = 0.0, y: float = 0.0) -> None:
    """A gold star at the saddle ``(x, y)`` (default the origin), drawn above the other artists."""
    ax.plot(x, y, "*", color="gold", ms=12, mec="k", mew=0.6, zorder=5)
