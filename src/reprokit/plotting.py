"""The book's plotting style: one palette and one set of matplotlib settings for every part.

Colours follow Part I's paper so the pages read alike: BP / the loss in red, PC / the energy in
blue, theory in black (outlined or dashed), numerical solutions in green. Parts II and III reuse
the same roles: a reference or closed form is black, a computed trajectory or estimate is
coloured, and a page whose legend assigns colours otherwise says so.
"""

from __future__ import annotations

import matplotlib as mpl

COLORS = {
    "loss": "#EF553B",  # BP, the MSE loss
    "bp": "#EF553B",
    "bp_matched": "#F4A582",  # BP with the normalisation-matched step
    "energy": "#636EFA",  # PC, the (equilibrated) energy
    "pc": "#636EFA",
    "theory": "#000000",
    "numerical": "#00CC96",  # numerical equilibrium
    "exact": "#1B9E77",
}


def use_book_style() -> None:
    """Apply the book-wide display settings: matplotlib (readable at page width, no chart junk) and
    numpy's printing of scalars as plain numbers (``0.0367``, not numpy 2's ``np.float64(0.0367)``),
    so that printed values and values glued into the prose (``{glue:text}`key:.3f```, which parses
    the printed form) read as numbers."""
    import numpy as np
    import seaborn as sns

    np.set_printoptions(legacy="1.25")

    sns.set_theme(context="notebook", style="ticks")
    mpl.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 110,
            "figure.figsize": (7.0, 3.6),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "legend.frameon": False,
            "legend.fontsize": 9,
        }
    )
