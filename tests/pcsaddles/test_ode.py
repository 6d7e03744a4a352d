"""Tests of pcsaddles.ode: the adaptive Heun solver with a PID step-size controller.

References: the exact solution ``expm(-t A) y0`` of a linear system (scipy.linalg.expm), the
exactness of the trapezoid rule on polynomial-in-time solutions, and closed-form derivatives of
``y0 exp(-a t)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from pcsaddles.ode import PIDController, heun_pid


@pytest.fixture(autouse=True)
def _torch_warns_every_time():
    """torch emits some warnings once per process (TORCH_WARN_ONCE); make them deterministic per test."""
    previous = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    yield
    torch.set_warn_always(previous)


def linear_system(seed=0, eigenvalues=(0.3, 1.0, 2.0, 3.0)):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    a = q @ np.diag(eigenvalues) @ q.T
    y0 = rng.standard_normal(len(eigenvalues))
    a_t = torch.tensor(a)

    def rhs(state):  # the state is a list of two tensors, as PC's list of hidden layers
        out = -(a_t @ torch.cat(state))
        return [out[:1], out[1:]]

    return a, y0, rhs


@pytest.mark.parametrize("t1", [1.0, 5.0, 20.0])
@pytest.mark.parametrize("tol", [1e-3, 1e-4, 1e-6])
def test_linear_decay_matches_matrix_exponential(t1, tol):
    a, y0, rhs = linear_system()
    state, info = heun_pid(rhs, [torch.tensor(y0[:1]), torch.tensor(y0[1:])], t1, PIDController(rtol=tol, atol=tol))
    exact = scipy.linalg.expm(-t1 * a) @ y0
    error = np.abs(torch.cat(state).numpy() - exact).max()
    assert error < 3 * tol  # global error within a small multiple of the (local) tolerance
    assert info.t == pytest.approx(t1, rel=1e-12)
    assert info.n_accepted > 0 and info.n_rejected >= 0
    assert [s.shape for s in state] == [(1,), (3,)]


def test_error_shrinks_with_the_tolerance():
    a, y0, rhs = linear_system(seed=1)
    exact = scipy.linalg.expm(-3.0 * a) @ y0
    errors, steps = [], []
    for tol in (1e-3, 1e-5):
        state, info = heun_pid(rhs, [torch.tensor(y0[:1]), torch.tensor(y0[1:])], 3.0, PIDController(rtol=tol, atol=tol))
        errors.append(np.abs(torch.cat(state).numpy() - exact).max())
        steps.append(info.n_accepted)
    assert errors[1] < errors[0] / 20  # 100x tighter tolerance
    # second order with a first-order error estimate: steps scale like tol^(-1/2), i.e. ~10x
    assert 5 < steps[1] / steps[0] < 20


def test_trapezoid_rule_is_exact_on_a_quadratic_solution():
    """y1' = 1, y2' = y1 has y2(t) = t^2 / 2: Heun (the trapezoid rule) integrates it exactly."""

    def rhs(state):
        return [torch.ones_like(state[0]), state[0].clone()]

    zero = torch.zeros(1, dtype=torch.float64)
    state, _ = heun_pid(rhs, [zero, zero.clone()], 7.0, PIDController(rtol=1e-2, atol=1e-2))
    assert abs(float(state[0]) - 7.0) < 1e-12
    assert abs(float(state[1]) - 24.5) < 1e-12


def test_steps_grow_as_the_solution_decays():
    """dy/dt = -y with atol-dominated control: the accepted step h satisfies h^2 |y| / 2 ~ atol + rtol |y|,
    so h grows like |y|^(-1/2) (until Heun's stability limit h = 2). Count right-hand-side evaluations
    per unit of time (one e-fold of y): far fewer late than early."""
    calls = []

    def rhs(state):
        calls.append(float(state[0]))
        return [-state[0]]

    heun_pid(rhs, [torch.tensor(1.0, dtype=torch.float64)], 12.0, PIDController(rtol=1e-4, atol=1e-4))
    values = np.array(calls)

    def per_unit_time(k):  # evaluations while y is in (e^-(k+1), e^-k]
        return int(((values <= math.exp(-k)) & (values > math.exp(-k - 1))).sum())

    counts = [per_unit_time(k) for k in range(10)]
    assert counts[0] > 10 * counts[9]
    assert all(later <= earlier for earlier, later in zip(counts, counts[1:]))


def test_max_steps_exceeded_raises():
    _, y0, rhs = linear_system()
    with pytest.raises(RuntimeError, match=r"max_steps=10 steps to reach t1=50"):
        heun_pid(rhs, [torch.tensor(y0[:1]), torch.tensor(y0[1:])], 50.0, PIDController(rtol=1e-6, atol=1e-6), max_steps=10)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(rtol=0.0), r"rtol > 0 .*received rtol=0.0"),
        (dict(rtol=-1e-3), r"rtol=-0.001"),
        (dict(atol=-1e-3), r"atol >= 0.*atol=-0.001"),
        (dict(rtol=float("nan")), r"rtol=nan"),
        (dict(atol=float("nan")), r"atol=nan"),
    ],
)
def test_nonsense_tolerances_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PIDController(**kwargs)


@pytest.mark.parametrize("t1", [0.0, -1.0])
def test_nonpositive_end_time_raises(t1):
    _, y0, rhs = linear_system()
    with pytest.raises(ValueError, match=rf"t1 must be positive; received {t1}"):
        heun_pid(rhs, [torch.tensor(y0[:1]), torch.tensor(y0[1:])], t1)


def test_default_controller_is_the_papers():
    ctl = PIDController()
    assert (ctl.rtol, ctl.atol) == (1e-3, 1e-3)  # Figure 1: diffrax PIDController(rtol=atol=1e-3)
    assert (ctl.pcoeff, ctl.icoeff, ctl.dcoeff) == (0.0, 1.0, 0.0)  # diffrax defaults: integral controller


def test_gradient_flows_through_the_solver():
    """y' = -a y: y(t1) = y0 exp(-a t1), so d y(t1) / d a = -t1 y0 exp(-a t1).

    Differentiating PC inference with method="heun" (``infer(..., differentiable=True)``) needs
    exactly this, with a state that requires grad; it must work without warnings."""
    a = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    y0 = torch.tensor([1.5, -0.5], dtype=torch.float64)
    state, _ = heun_pid(lambda s: [-a * s[0]], [y0], 2.0, PIDController(rtol=1e-7, atol=1e-7))
    state[0].sum().backward()
    expected = float(-2.0 * y0.sum() * math.exp(-0.7 * 2.0))
    assert abs(float(a.grad) - expected) < 1e-5 * abs(expected)
