"""The paper's two schematic figures, drawn with matplotlib.

* Fig. 1: a linear network with inputs ``x_1..x_n``, ``N - 1`` hidden layers ``z^1..z^{N-1}`` of
  width ``k`` and outputs ``y_1..y_n``; edges labelled ``W_1..W_N``; ``y = W_N ⋯ W_1 x``.
* Fig. 2: translucent sheets ``𝒞_1, 𝒞_2, 𝒞_3`` (leaves of the imbalance foliation) pierced by
  a curve ``𝒯`` (a branch of the target set), each crossing marked.
"""

from __future__ import annotations

import numpy as np


def draw_network(ax, n: int, k: int, depth: int, *, color: str = "#636EFA") -> list[int]:
    """Draw Fig. 1 on ``ax``: ``depth + 1`` columns of circles (``n``, ``k`` x ``(depth - 1)``, ``n``),
    all edges between consecutive columns, edge labels ``W_1..W_N``. Returns the drawn widths."""
    from .init import widths as layer_widths

    sizes = layer_widths(n, k, depth)
    top = max(sizes)
    centres = []
    for col, size in enumerate(sizes):
        ys = (np.arange(size) - (size - 1) / 2)[::-1]
        centres.append([(float(col), float(y)) for y in ys])
    for col in range(depth):
        for x0, y0 in centres[col]:
            for x1, y1 in centres[col + 1]:
                ax.annotate("", xy=(x1 - 0.09, y1), xytext=(x0 + 0.09, y0),
                            arrowprops=dict(arrowstyle="-|>", color="0.55", lw=0.7, shrinkA=0, shrinkB=0))
        ax.text(col + 0.5, top / 2 + 0.25, f"$W_{{{col + 1}}}$", ha="center", va="bottom", fontsize=11)
    names = ["x"] + [f"z^{{{i}}}" for i in range(1, depth)] + ["y"]
    for col, (size, pts) in enumerate(zip(sizes, centres)):
        face = "white" if col in (0, depth) else color
        for j, (x, y) in enumerate(pts, start=1):
            ax.add_patch(_circle(x, y, face))
            label = f"${names[col]}_{{{j}}}$"
            ax.text(x, y, label, ha="center", va="center", fontsize=7, color="black" if face == "white" else "white")
    ax.set_xlim(-0.5, depth + 0.5)
    ax.set_ylim(-top / 2 - 0.5, top / 2 + 0.7)
    ax.set_aspect("equal")
    ax.axis("off")
    return sizes


def _circle(x: float, y: float, face: str):
    from matplotlib.patches import Circle

    return Circle((x, y), 0.09 * 3, facecolor=face, edgecolor="black", lw=0.8, zorder=3)


def draw_foliation_schematic(ax, n_leaves: int = 3, *, colors=("#636EFA", "#00CC96", "#EF553B")) -> np.ndarray:
    """Draw Fig. 2 on a 3-D axis: ``n_leaves`` curved translucent sheets ``{x = c_j + 0.15 sin(y) cos(z)}``
    and the curve ``𝒯 = {(t, 0.4 sin(1.5 t), 0.3 t)}`` that crosses each sheet once; returns the
    crossing points ``(n_leaves, 3)`` (found by bisection on the curve)."""
    from scipy.optimize import brentq

    offsets = np.linspace(-1.2, 1.2, n_leaves)
    grid = np.linspace(-1.5, 1.5, 30)
    yy, zz = np.meshgrid(grid, grid)
    sheet = lambda c, y, z: c + 0.15 * np.sin(2 * y) * np.cos(z)  # noqa: E731
    curve = lambda t: np.array([t, 0.4 * np.sin(1.5 * t), 0.3 * t])  # noqa: E731
    t = np.linspace(-1.9, 1.9, 300)
    pts = np.array([curve(s) for s in t])
    crossings = []
    for j, c in enumerate(offsets):
        ax.plot_surface(sheet(c, yy, zz), yy, zz, color=colors[j % len(colors)], alpha=0.25, linewidth=0)
        root = brentq(lambda s: curve(s)[0] - sheet(c, *curve(s)[1:]), -1.9, 1.9)
        crossings.append(curve(root))
        ax.text(c, 1.5, 1.6, f"$\\mathcal{{C}}_{{{j + 1}}}$", fontsize=12)
    crossings = np.array(crossings)
    ax.plot(pts[:, 0], pts[:, 1], pts[:, 2], color="black", lw=2)
    ax.text(*(pts[-1] + np.array([0.1, 0.0, 0.1])), r"$\mathcal{T}$", fontsize=12)
    ax.scatter(crossings[:, 0], crossings[:, 1], crossings[:, 2], color="black", s=25, depthshade=False)
    ax.set_axis_off()
    return crossings
