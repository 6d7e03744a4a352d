"""The book's display settings: numbers glued into the prose must parse as numbers."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np

from reprokit import plotting


def test_use_book_style_prints_numpy_scalars_as_plain_numbers():
    options, rc = np.get_printoptions(), dict(mpl.rcParams)
    try:
        plotting.use_book_style()
        for value in (np.float64(0.036671583950519), np.float32(2.5), np.int64(622), np.float64(3.5e-16)):
            text = repr(value)
            assert "np." not in text and float(text) == float(value)  # what {glue:text}`key:.3f` parses
        assert mpl.rcParams["axes.spines.top"] is False and mpl.rcParams["legend.frameon"] is False
    finally:
        np.set_printoptions(**options)
        mpl.rcParams.update(rc)
