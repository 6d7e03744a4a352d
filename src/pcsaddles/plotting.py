"""The book's plotting style: one palette for every chapter.

Colours follow the authors' figures so the pages read like the paper: BP / loss in red, PC /
energy in blue, theory in black (outlined or dashed), numerical equilibria in green.
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
    """Apply the book-wide matplotlib settings (readable at page width, no chart junk)."""
    import seaborn as sns

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
