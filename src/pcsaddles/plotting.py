"""Part I's plot panels, drawn the same way on every page that needs them.

* :func:`hessian_heatmap` -- a Hessian as a heat map, colour scale clipped to ``[-1, 1]``, with
  the boundaries of the blocks ``W_1 | W_2 | ... | W_L`` (Figures 3, 8, 9);
* :func:`spectrum_histogram` -- eigenvalue histograms with counts on a log axis, the loss and the
  numerical energy as filled bars, the theory as a black outline (Figures 3, 4, 9, 10);
* :func:`landscape_heatmap`, :func:`draw_path`, :func:`mark_saddle` -- loss and energy landscapes
  over a 2-D grid of weights with training trajectories (Figure 2);
* :func:`seed_band` -- per-seed curves with the median and the min-max band over seeds (Figure 7).

The book-wide palette and style are :mod:`reprokit.plotting` (re-exported here): BP and the loss
red, PC and the energy blue, theory black.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reprokit.plotting import COLORS, use_book_style

__all__ = ["COLORS", "draw_path", "hessian_colorbar", "hessian_heatmap", "landscape_heatmap", "mark_saddle",
           "seed_band", "spectrum_histogram", "use_book_style"]

HESSIAN_CMAP = "bwr"


def hessian_heatmap(ax, matrix, widths: Sequence[int] | None = None, title: str | None = None,
                    ylabel: str | None = None):
    """Draw ``matrix (p, p)`` (a tensor or array) with the ``bwr`` colour map clipped to ``[-1, 1]``
    (the authors' code clips the same way; the paper's caption says "normalised"). With the network
    ``widths`` ``[d_0, ..., d_L]``, grey lines mark the boundaries between the row-major blocks
    ``vec(W_1), ..., vec(W_L)``. No ticks. Returns the image (for :func:`hessian_colorbar`)."""
    values = np.asarray(matrix.detach().cpu() if hasattr(matrix, "detach") else matrix, dtype=float)
    im = ax.imshow(values, cmap=HESSIAN_CMAP, vmin=-1, vmax=1, interpolation="nearest")
    if widths is not None:
        sizes = [a * b for a, b in zip(widths[:-1], widths[1:])]
        for edge in np.cumsum(sizes)[:-1] - 0.5:
            ax.axhline(edge, color="0.5", lw=0.4)
            ax.axvline(edge, color="0.5", lw=0.4)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set(visible=True, linewidth=0.5, color="0.6")
    if title:
        ax.set_title(title, fontsize=10)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=10)
    return im


def hessian_colorbar(fig, im, **where):
    """The colour bar of :func:`hessian_heatmap` panels, labelled; ``where`` is passed to
    ``fig.colorbar`` (``cax=`` or ``ax=``, ``shrink=``)."""
    return fig.colorbar(im, label="Hessian entry (clipped to [$-1$, 1])", **where)


def spectrum_histogram(ax, spectra: dict, bins: int = 30, title: str | None = None, ylim: tuple | None = None) -> None:
    """Eigenvalue histograms in the style of the paper's Figures 3, 4, 9 and 10 (counts on a log axis).

    ``spectra`` maps a legend label to ``(eigenvalues, kind)`` with kind ``"loss"`` or ``"energy"``
    (filled bars, red and blue; where they overlap they look purple) or ``"theory"`` (black
    outline). All share ``bins`` bins over the joint range.
    """
    values = np.concatenate([np.asarray(v, dtype=float) for v, _ in spectra.values()])
    lo, hi = values.min(), values.max()
    pad = 0.05 * max(hi - lo, 1e-3)
    edges = np.linspace(lo - pad, hi + pad, bins + 1)
    for label, (vals, kind) in spectra.items():
        vals = np.asarray(vals, dtype=float)
        if kind == "theory":
            ax.hist(vals, bins=edges, histtype="step", color=COLORS["theory"], lw=1.3, label=label)
        else:
            ax.hist(vals, bins=edges, color=COLORS[kind], alpha=0.45, label=label)
    ax.set_yscale("log")
    ax.set_ylim(*(ylim or (0.5, None)))
    ax.set(xlabel="eigenvalue", ylabel="number of eigenvalues")
    if title:
        ax.set_title(title, fontsize=10)


def landscape_heatmap(ax, values, xs, ys, title: str, vmax: float, colorbar: bool = True, label: str = "value"):
    """A landscape panel: ``values[i, j]`` at ``(xs[i], ys[j])`` in grey, clipped at ``vmax`` so
    that the neighbourhood of the saddle has contrast, with 10 contour lines between 0 and
    ``vmax`` (none for a constant surface). Adds a colour bar labelled ``label`` unless
    ``colorbar=False``; returns the ``QuadMesh`` (for a shared colour bar)."""
    mesh = ax.pcolormesh(xs, ys, values.T, cmap="Greys", shading="auto", vmin=0, vmax=vmax)
    if np.ptp(values) > 1e-12:
        ax.contour(xs, ys, values.T, levels=np.linspace(0, vmax, 11)[1:], colors="k", linewidths=0.4, alpha=0.6)
    ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, shrink=0.85, pad=0.02, extend="max", label=label)
    return mesh


def draw_path(ax, coords, color, label: str) -> None:
    """A trajectory ``coords (n, 2)`` as connected dots, its start a diamond and its end a cross."""
    ax.plot(coords[:, 0], coords[:, 1], "-o", color=color, ms=2.5, lw=1, label=label)
    ax.plot(*coords[0], "D", color=color, ms=6, mec="k", mew=0.6)
    ax.plot(*coords[-1], "X", color=color, ms=8, mec="k", mew=0.6)


def mark_saddle(ax, x: float = 0.0, y: float = 0.0) -> None:
    """A gold star at the saddle ``(x, y)`` (default the origin), drawn above the other artists."""
    ax.plot(x, y, "*", color="gold", ms=12, mec="k", mew=0.6, zorder=5)


def seed_band(ax, curves: Sequence[Sequence[float]], color, label: str, *, start: int = 1, censored=(),
              linestyle: str = "-", marker: str | None = None) -> None:
    """Per-seed curves (thin), their median (thick, labelled ``label``) and the min-max band over
    seeds, over the iterations every seed has (:func:`pcsaddles.curves.seed_bands`). Iterations are numbered from
    ``start``. A seed listed in ``censored`` (indices) did not escape within its run: its thin line
    ends in an open circle at its last iteration."""
    from .curves import seed_bands

    for k, c in enumerate(curves):
        c = np.asarray(c, dtype=float)
        it = np.arange(start, start + len(c))
        ax.plot(it, c, color=color, lw=0.6, alpha=0.45, ls=linestyle)
        if k in censored:
            ax.plot(it[-1], c[-1], "o", mfc="white", mec=color, ms=6, mew=1.2, zorder=4)
    bands = seed_bands(curves)
    it = np.arange(start, start + len(bands["median"]))
    ax.fill_between(it, bands["min"], bands["max"], color=color, alpha=0.18, lw=0)
    ax.plot(it, bands["median"], color=color, lw=1.6, ls=linestyle, marker=marker, ms=2.5, label=label)
