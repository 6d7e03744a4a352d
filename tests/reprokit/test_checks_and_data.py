"""reprokit.checks (input validation with messages naming expected and received values) and
reprokit.data.provenance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reprokit import checks, data


def test_check_weights_returns_widths_and_names_what_is_wrong():
    ws = [torch.zeros(4, 3, dtype=torch.float64), torch.zeros(2, 4, dtype=torch.float64)]
    assert checks.check_weights(ws) == [3, 4, 2]
    with pytest.raises(TypeError, match="weights must be a list"):
        checks.check_weights(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="at least one matrix"):
        checks.check_weights([])
    with pytest.raises(TypeError, match=r"W2 must be a torch.Tensor .*received ndarray"):
        checks.check_weights([ws[0], np.zeros((2, 4))])
    with pytest.raises(ValueError, match=r"W2 has shape \(2, 5\) but W1 outputs 4 units: W2 must have shape \(d_2, 4\)"):
        checks.check_weights([ws[0], torch.zeros(2, 5, dtype=torch.float64)])
    with pytest.raises(TypeError, match="all weights must share one dtype"):
        checks.check_weights([ws[0], torch.zeros(2, 4, dtype=torch.float32)])
    with pytest.raises(TypeError, match="must be float32 or float64; received torch.int64"):
        checks.check_weights([torch.zeros(2, 2, dtype=torch.int64)])


def test_scalar_checks():
    assert checks.check_choice("kind", "stable", ("stable", "unstable")) == "stable"
    with pytest.raises(ValueError, match=r"unknown kind 'neutral'; expected one of \['stable', 'unstable'\]"):
        checks.check_choice("kind", "neutral", ("stable", "unstable"))
    with pytest.raises(TypeError, match="kind must be a string"):
        checks.check_choice("kind", 1, ("stable",))
    assert checks.check_positive_int("k", 3) == 3
    assert checks.check_positive_int("n", 0, minimum=0) == 0
    with pytest.raises(ValueError, match="k must be an int >= 1; received 0"):
        checks.check_positive_int("k", 0)
    with pytest.raises(TypeError, match="k must be an int >= 1; received bool True"):
        checks.check_positive_int("k", True)
    with pytest.raises(TypeError, match="received float 2.0"):
        checks.check_positive_int("k", 2.0)
    assert checks.check_finite_number("t1", np.float64(2.5), minimum=0) == 2.5
    assert checks.check_finite_number("t1", torch.tensor(1.0)) == 1.0
    with pytest.raises(ValueError, match="t1 must be >= 0; received -1.0"):
        checks.check_finite_number("t1", -1, minimum=0)
    with pytest.raises(ValueError, match="eps must be > 0; received 0.0"):
        checks.check_finite_number("eps", 0.0, minimum=0, strict=True)
    with pytest.raises(ValueError, match="must be finite; received nan"):
        checks.check_finite_number("c", float("nan"))
    with pytest.raises(TypeError, match="c must be a real number; received str"):
        checks.check_finite_number("c", "1")


def test_provenance_records_where_numbers_came_from():
    p = data.provenance("duffing", "scipy solve_ivp (DOP853, rtol 1e-10)", n_samples=25600, split="train",
                        note="64 trajectories", alpha=-1.0, beta=0.1)
    assert p == dict(name="duffing", source="scipy solve_ivp (DOP853, rtol 1e-10)", n_samples=25600, split="train",
                     note="64 trajectories", alpha=-1.0, beta=0.1)
    with pytest.raises(ValueError, match="provenance name must be a non-empty string"):
        data.provenance("", "x")
    with pytest.raises(ValueError, match="n_samples must be a non-negative int"):
        data.provenance("a", "b", n_samples=-1)
    err = data.DataUnavailableError("no files")
    assert isinstance(err, FileNotFoundError) and isinstance(err, ValueError)
