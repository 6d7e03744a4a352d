"""Tests of pcsaddles.plotting: what the panels draw, read back from the matplotlib artists."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from pcsaddles import plotting  # noqa: E402


def test_hessian_heatmap_clips_and_marks_the_weight_blocks():
    fig, ax = plt.subplots()
    widths = [3, 2, 4]  # W_1 has 6 entries, W_2 8: one boundary after entry 6
    im = plotting.hessian_heatmap(ax, torch.eye(14, dtype=torch.float64) * 3, widths, title="t")
    assert im.get_clim() == (-1, 1)
    horizontal = sorted({line.get_ydata()[0] for line in ax.lines if line.get_ydata()[0] == line.get_ydata()[1]})
    assert horizontal == [5.5]
    plt.close(fig)


def test_spectrum_histogram_counts_every_eigenvalue():
    fig, ax = plt.subplots()
    spectra = {"loss": (np.zeros(5), "loss"), "energy": (np.array([-1.0, 0, 0, 0, 0]), "energy"),
               "theory": (np.array([-1.0, 0, 0, 0, 0]), "theory")}
    plotting.spectrum_histogram(ax, spectra, bins=10)
    assert sum(p.get_height() for p in ax.containers[0]) == 5
    assert ax.get_yscale() == "log"
    plt.close(fig)


def test_seed_band_spans_the_seeds_and_marks_censored_ones():
    fig, ax = plt.subplots()
    curves = [[1.0, 0.5, 0.1], [1.0, 1.0, 1.0], [1.0, 0.4, 0.2, 0.1]]
    plotting.seed_band(ax, curves, "C0", "BP", censored=[1])
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == 0.1 and band[:, 1].max() == 1.0
    assert ax.lines[-1].get_label() == "BP"
    np.testing.assert_array_equal(ax.lines[-1].get_ydata(), [1.0, 0.5, 0.2])  # the median over the 3 common steps
    open_marks = [line for line in ax.lines if line.get_marker() == "o" and line.get_markerfacecolor() == "white"]
    assert len(open_marks) == 1 and open_marks[0].get_ydata()[0] == 1.0
    plt.close(fig)
