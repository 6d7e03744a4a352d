"""Tests of pcsaddles.toy: the authors' toy batch against NumPy's legacy global stream."""

from __future__ import annotations

import numpy as np
import pytest

from pcsaddles import toy


def test_authors_batch_is_the_legacy_global_stream():
    state = np.random.get_state()
    try:
        np.random.seed(0)
        x = np.random.normal(1, 0.1, size=(3, 64))  # the authors' notebook
        y2 = np.random.normal(1, 0.1, 64)
    finally:
        np.random.set_state(state)
    bx, by = toy.authors_batch(3, 64, seed=0)
    np.testing.assert_array_equal(bx.numpy(), x.T)
    np.testing.assert_array_equal(by.numpy(), -x.T)
    _, by_code = toy.authors_batch(3, 64, seed=0, y2="code")
    np.testing.assert_array_equal(by_code.numpy()[:, 1], y2)
    _, by_paper = toy.authors_batch(3, 64, seed=0, y2="paper")
    np.testing.assert_array_equal(by_paper.numpy()[:, 1], x[1])
    np.testing.assert_array_equal(by_paper.numpy()[:, [0, 2]], -x.T[:, [0, 2]])
    with pytest.raises(ValueError, match="y2"):
        toy.authors_batch(3, y2="x2")
