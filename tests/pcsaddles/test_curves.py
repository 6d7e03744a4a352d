"""Tests of pcsaddles.curves on hand-made curves whose crossings and statistics are known."""

from __future__ import annotations

import numpy as np
import pytest

from pcsaddles import curves


def test_escape_iteration_on_synthetic_curves():
    curve = [1.0] * 10 + [0.7, 0.51, 0.49, 0.2]
    assert curves.escape_iteration(curve) == 12
    assert curves.escape_iteration(curve, fraction=0.75) == 10
    assert curves.escape_iteration(curve, reference=2.0) == 10  # below 1.0 first at index 10
    assert curves.escape_iteration([1.0, 0.9, 0.8]) is None
    assert curves.escape_iteration(np.array([0.5, 0.2])) == 1
    with pytest.raises(ValueError, match="fraction"):
        curves.escape_iteration(curve, fraction=1.5)


def test_escape_iteration_from_a_checkpoint_counts_from_it():
    curve = [3.0, 3.0, 1.0, 1.0, 1.0, 0.6, 0.4]
    assert curves.escape_iteration(curve, start=2) == 4  # below 0.5 (half of curve[2]) at index 6
    assert curves.escape_iteration(curve, start=5) is None  # half of 0.6 is 0.3: never reached
    with pytest.raises(ValueError, match="start"):
        curves.escape_iteration(curve, start=7)


def test_first_below_is_strict_and_counts_from_start():
    assert curves.first_below([0.1, 0.09, 0.089], 0.09) == 2
    assert curves.first_below([0.1, 0.1], 0.09) is None
    assert curves.first_below([0.1, 0.05, 0.2, 0.01], 0.06, start=2) == 1
    assert curves.first_below([np.nan, 0.0], 1.0) == 1  # NaN is never below
    with pytest.raises(ValueError, match="1-D"):
        curves.first_below([[0.1]], 1.0)


def test_seed_bands_are_median_min_max_over_the_common_length():
    bands = curves.seed_bands([[1.0, 2.0, 3.0], [3.0, 4.0], [2.0, 0.0, 9.0, 9.0]])
    np.testing.assert_array_equal(bands["median"], [2.0, 2.0])
    np.testing.assert_array_equal(bands["min"], [1.0, 0.0])
    np.testing.assert_array_equal(bands["max"], [3.0, 4.0])
    with pytest.raises(ValueError, match="at least one"):
        curves.seed_bands([])


def test_censored_escape_is_the_run_length_when_there_is_no_escape():
    assert curves.censored_escape([1.0, 0.8, 0.4]) == (2, True)
    assert curves.censored_escape([1.0, 0.8, 0.6, 0.55]) == (4, False)
