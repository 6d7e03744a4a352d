"""Tests of pcsaddles.pc: energy (Eq. 2), prediction errors, activity and weight gradients, and
every inference method (Eq. 3).

References are independent of the package: numpy implementations of Eq. 2 and of explicit Euler
written from Eqs. 2-3, a dense block-tridiagonal linear solve of dF/dz = 0 for the equilibrium,
Eq. 5 with ``numpy.linalg.inv``, torch.autograd of separately written energies, central finite
differences, and the closed-form energy Hessian at the origin (Eq. 8) built entry by entry.
Checks of the reproduction covered here: T1-iter, T1-err, T1-env, T2-unrolled (and T1-exact through
``infer(method="exact")``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pcsaddles import dln, pc
from reprokit import hessian
from reference import (
    F64, NP_ACT, TORCH_ACT, dense_equilibrium, energy_ref, eq5_ref, eq8_by_index, errors_ref, fd_grad, feedforward_ref,
    prod, random_data, random_net, rescaling_ref, torch_fstar, tt,
)

# torch 2.13 scripts its forward-mode-AD decompositions with the deprecated torch.jit.script the first
# time forward AD runs in a process (torch._decomp.decompositions_for_jvp); torch.func.hessian uses
# forward AD. The warning comes from inside torch, not from pcsaddles, so tests that take Hessians
# ignore exactly that message and nothing else.
TORCH_JIT_DEPRECATION = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


@pytest.fixture(autouse=True)
def _torch_warns_every_time():
    """torch emits some warnings once per process (TORCH_WARN_ONCE); make them deterministic per test."""
    previous = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    yield
    torch.set_warn_always(previous)


# ------------------------------------------------------------------------------------------------
# independent references used only here (shared ones live in reference.py)


def euler_ref(ws, x, y, z0, dt, steps, activation="linear"):
    """Explicit Euler on each example's energy, written from Eqs. 2-3:
    dz_l/dt = -e_l + W_{l+1}^T (f'_{l+1}(W_{l+1} z_l) * e_{l+1}), output layer linear."""
    f, fp = NP_ACT[activation]
    last = len(ws) - 1
    z = [v.copy() for v in z0]
    for _ in range(steps):
        layers = [x, *z, y]
        pre = [layers[i] @ w.T for i, w in enumerate(ws)]
        err = [layers[i + 1] - (pre[i] if i == last else f(pre[i])) for i in range(len(ws))]
        slope = [err[i] if i == last else err[i] * fp(pre[i]) for i in range(len(ws))]
        z = [z[l] - dt * (err[l] - slope[l + 1] @ ws[l + 1]) for l in range(len(z))]
    return z


def torch_energy_sum(ws, zs, x, y, activation="linear"):
    """Independent torch form of sum_i F_i (no 1/N): a loop over examples, written with matrix-vector products."""
    f = TORCH_ACT[activation]
    total = 0.0
    for i in range(x.shape[0]):
        prev = x[i]
        for l, w in enumerate(ws):
            target = y[i] if l == len(ws) - 1 else zs[l][i]
            pred = w @ prev if l == len(ws) - 1 else f(w @ prev)
            total = total + 0.5 * torch.dot(target - pred, target - pred)
            prev = target
    return total


def fstar_grad_formula(ws, x, y):
    """The closed-form gradient of F* (generalising A.3.3, Eqs. 31-32)."""
    L, n = len(ws), x.shape[0]
    sxx, syx = x.T @ x / n, y.T @ x / n
    r = y.T - prod(ws, L, 1) @ x.T
    psi = r @ r.T / n
    s_inv = np.linalg.inv(rescaling_ref(ws))
    grads = []
    for l in range(1, L + 1):
        left = prod(ws, L, l + 1).T @ s_inv
        right = prod(ws, l - 1, 1).T if l > 1 else np.eye(ws[0].shape[1])
        g = left @ (prod(ws, L, 1) @ sxx - syx) @ right
        for k in range(2, l + 1):
            g = g - left @ psi @ s_inv @ prod(ws, L, k) @ prod(ws, l - 1, k).T
        grads.append(g)
    return grads


# ------------------------------------------------------------------------------------------------
# energy, errors and gradients at given activities


@pytest.mark.parametrize("activation", ["linear", "tanh", "relu"])
def test_energy_at_feedforward_activities_equals_loss(activation):
    ws = random_net([4, 5, 6, 3])
    x, y = random_data(4, 3, 13)
    zs = feedforward_ref(ws, x, activation)
    got = float(pc.energy(tt(ws), tt(zs), tt(x), tt(y), activation))
    out = zs[-1] @ ws[-1].T
    loss = 0.5 * np.sum((y - out) ** 2) / 13  # Eq. 1, 1/(2N) convention
    assert abs(got - loss) < 1e-12
    assert abs(got - float(dln.mse_loss(tt(ws), tt(x), tt(y), activation))) < 1e-12


@pytest.mark.parametrize("activation", ["linear", "tanh", "relu"])
def test_energy_and_errors_at_arbitrary_activities(activation):
    ws = random_net([4, 5, 6, 3], seed=2)
    x, y = random_data(4, 3, 13)
    rng = np.random.default_rng(3)
    zs = [rng.standard_normal((13, 5)), rng.standard_normal((13, 6))]
    got = pc.energy(tt(ws), tt(zs), tt(x), tt(y), activation)
    assert got.ndim == 0
    assert abs(float(got) - energy_ref(ws, zs, x, y, activation)) < 1e-12
    errors = pc.prediction_errors(tt(ws), tt(zs), tt(x), tt(y), activation)
    for e, ref in zip(errors, errors_ref(ws, zs, x, y, activation), strict=True):
        np.testing.assert_allclose(e.numpy(), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("activation", ["linear", "tanh", "relu"])
def test_activity_and_weight_grads_match_autograd(activation):
    ws = random_net([3, 4, 5, 2], seed=4)
    x, y = random_data(3, 2, 6)
    rng = np.random.default_rng(5)
    zs = [rng.standard_normal((6, 4)), rng.standard_normal((6, 5))]
    t_ws = [w.requires_grad_(True) for w in tt(ws)]
    t_zs = [z.requires_grad_(True) for z in tt(zs)]
    total = torch_energy_sum(t_ws, t_zs, tt(x), tt(y), activation)
    total.backward()
    act_grads = pc.activity_grads(tt(ws), tt(zs), tt(x), tt(y), activation)  # per example: d(sum_i F_i)/dz
    for got, z in zip(act_grads, t_zs, strict=True):
        np.testing.assert_allclose(got.numpy(), z.grad.numpy(), rtol=0, atol=1e-12)
    w_grads = pc.weight_grads(tt(ws), tt(zs), tt(x), tt(y), activation)  # dF/dW with F = sum_i F_i / N
    for got, w in zip(w_grads, t_ws, strict=True):
        assert got.shape == w.shape
        np.testing.assert_allclose(got.numpy(), w.grad.numpy() / 6, rtol=0, atol=1e-12)


@pytest.mark.parametrize("hidden_layers", [1, 2, 4])
def test_theorem1_equilibrium_errors(hidden_layers):
    """T1-err: at the equilibrium, e_l* = W_{L:l+1}^T S^{-1} r (abs 1e-10)."""
    widths = [5] + [6] * hidden_layers + [3]
    ws = random_net(widths, seed=hidden_layers)
    x, y = random_data(5, 3, 40, seed=10 + hidden_layers)
    L = len(ws)
    r = y.T - prod(ws, L, 1) @ x.T
    s_inv_r = np.linalg.inv(rescaling_ref(ws)) @ r
    expected = [(prod(ws, L, l + 1).T @ s_inv_r).T for l in range(1, L + 1)]
    for zs in (dense_equilibrium(ws, x, y), [z.numpy() for z in pc.infer(tt(ws), tt(x), tt(y), method="exact")]):
        errors = pc.prediction_errors(tt(ws), tt(zs), tt(x), tt(y))
        assert len(errors) == L
        for e, ref in zip(errors, expected):
            np.testing.assert_allclose(e.numpy(), ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("hidden_layers", [1, 2, 4])
def test_theorem1_envelope(hidden_layers):
    """T1-env: PC's weight gradient at the equilibrium is grad F* (autodiff of Eq. 5 and its closed form), 1e-8."""
    widths = [5] + [6] * hidden_layers + [3]
    ws = random_net(widths, seed=hidden_layers)
    x, y = random_data(5, 3, 40, seed=10 + hidden_layers)
    t_ws = [w.requires_grad_(True) for w in tt(ws)]
    torch_fstar(t_ws, tt(x), tt(y)).backward()
    formula = fstar_grad_formula(ws, x, y)
    for zs in (dense_equilibrium(ws, x, y), [z.numpy() for z in pc.infer(tt(ws), tt(x), tt(y), method="exact")]):
        grads = pc.weight_grads(tt(ws), tt(zs), tt(x), tt(y))
        for got, w, ref in zip(grads, t_ws, formula, strict=True):
            np.testing.assert_allclose(got.numpy(), w.grad.numpy(), rtol=0, atol=1e-8)
            np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-8)


def test_envelope_also_matches_finite_differences():
    ws = random_net([3, 4, 4, 2], seed=11)
    x, y = random_data(3, 2, 12)
    zs = dense_equilibrium(ws, x, y)
    grads = pc.weight_grads(tt(ws), tt(zs), tt(x), tt(y))
    for got, ref in zip(grads, fd_grad(lambda v: eq5_ref(v, x, y), ws)):
        np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-8)


def test_float32_energy_and_weight_grads():
    ws = random_net([4, 5, 6, 3], seed=6)
    x, y = random_data(4, 3, 13)
    rng = np.random.default_rng(7)
    zs = [rng.standard_normal((13, 5)), rng.standard_normal((13, 6))]
    for activation in ("linear", "tanh"):
        args = (tt(ws, torch.float32), tt(zs, torch.float32), tt(x, torch.float32), tt(y, torch.float32))
        e32 = pc.energy(*args, activation)
        assert e32.dtype == torch.float32
        ref = energy_ref(ws, zs, x, y, activation)
        assert abs(float(e32) - ref) < 1e-5 * ref
        t_ws = [w.requires_grad_(True) for w in tt(ws)]
        (torch_energy_sum(t_ws, tt(zs), tt(x), tt(y), activation) / 13).backward()
        for g, w in zip(pc.weight_grads(*args, activation), t_ws):
            assert g.dtype == torch.float32
            np.testing.assert_allclose(g.numpy(), w.grad.numpy(), rtol=0, atol=1e-5)


# ------------------------------------------------------------------------------------------------
# inference


@pytest.mark.parametrize("hidden_layers", [1, 2, 4])
def test_infer_exact_matches_dense_solve(hidden_layers):
    widths = [5] + [6] * hidden_layers + [3]
    ws = random_net(widths, seed=hidden_layers)
    x, y = random_data(5, 3, 40, seed=10 + hidden_layers)
    zs, info = pc.infer(tt(ws), tt(x), tt(y), method="exact", return_info=True)
    for got, ref in zip(zs, dense_equilibrium(ws, x, y), strict=True):
        np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-10)
    assert info.method == "exact" and info.n_steps == 0 and info.max_grad < 1e-10
    assert abs(float(pc.energy(tt(ws), zs, tt(x), tt(y))) - eq5_ref(ws, x, y)) < 1e-10


@pytest.mark.parametrize("hidden_layers", [1, 2, 4])
def test_theorem1_iterative_euler(hidden_layers):
    """T1-iter: Euler dt=0.1 from the feed-forward pass until max|dF/dz| < 1e-10 gives Eq. 5 (rel 1e-6)."""
    widths = [5] + [6] * hidden_layers + [3]
    ws = random_net(widths, seed=hidden_layers)
    x, y = random_data(5, 3, 40, seed=10 + hidden_layers)
    zs, info = pc.infer(tt(ws), tt(x), tt(y), dt=0.1, n_steps=50_000, tol=1e-10, return_info=True)
    assert info.converged is True and info.max_grad < 1e-10
    assert 0 < info.n_steps < 50_000 and info.t == pytest.approx(0.1 * info.n_steps)
    fstar = eq5_ref(ws, x, y)
    assert abs(float(pc.energy(tt(ws), zs, tt(x), tt(y))) - fstar) < 1e-6 * fstar
    for got, ref in zip(zs, dense_equilibrium(ws, x, y)):
        np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-8)


@pytest.mark.parametrize("hidden_layers", [1, 2, 4])
def test_infer_heun_reaches_equilibrium_within_tolerance(hidden_layers):
    widths = [5] + [6] * hidden_layers + [3]
    ws = random_net(widths, seed=hidden_layers)
    x, y = random_data(5, 3, 40, seed=10 + hidden_layers)
    zs, info = pc.infer(tt(ws), tt(x), tt(y), method="heun", rtol=1e-3, atol=1e-3, return_info=True)
    assert info.method == "heun" and info.t == pytest.approx(300.0) and info.n_steps > 0
    fstar = eq5_ref(ws, x, y)
    gap = float(pc.energy(tt(ws), zs, tt(x), tt(y))) - fstar
    assert -1e-12 < gap < 1e-3 * fstar  # F* is the minimum over activities


def test_infer_chain_closed_form():
    """Scalar chain with one hidden unit: z* = (w1 x + w2 y) / (1 + w2^2)."""
    w1, w2 = 0.8, -1.3
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((10, 1)), rng.standard_normal((10, 1))
    expected = (w1 * x + w2 * y) / (1 + w2**2)
    ws = [torch.tensor([[w1]], dtype=F64), torch.tensor([[w2]], dtype=F64)]
    exact = pc.infer(ws, tt(x), tt(y), method="exact")[0]
    np.testing.assert_allclose(exact.numpy(), expected, rtol=0, atol=1e-12)
    euler = pc.infer(ws, tt(x), tt(y), n_steps=10_000, tol=1e-12)[0]
    np.testing.assert_allclose(euler.numpy(), expected, rtol=0, atol=1e-11)


@pytest.mark.parametrize("activation", ["linear", "tanh", "relu"])
@pytest.mark.parametrize("steps", [1, 3, 7])
def test_euler_fixed_steps_match_numpy_loop(activation, steps):
    ws = random_net([4, 5, 6, 3], seed=9)
    x, y = random_data(4, 3, 11)
    z0 = feedforward_ref(ws, x, activation)
    expected = euler_ref(ws, x, y, z0, 0.1, steps, activation)
    zs, info = pc.infer(tt(ws), tt(x), tt(y), activation, n_steps=steps, return_info=True)
    assert info.n_steps == steps and info.converged is None and info.t == pytest.approx(0.1 * steps)
    for got, ref in zip(zs, expected, strict=True):
        assert not got.requires_grad
        np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-12)
    # zero steps return the feed-forward activities
    for got, ref in zip(pc.infer(tt(ws), tt(x), tt(y), activation, n_steps=0), z0):
        np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-12)


def test_euler_default_is_fifty_steps_of_dt_point_one():
    ws = random_net([3, 4, 2], seed=12)
    x, y = random_data(3, 2, 5)
    expected = euler_ref(ws, x, y, feedforward_ref(ws, x), 0.1, 50)
    np.testing.assert_allclose(pc.infer(tt(ws), tt(x), tt(y))[0].numpy(), expected[0], rtol=0, atol=1e-12)


def smooth_case(activation):
    """A small network whose inference settles at a point where the energy is differentiable.

    For relu that needs care: with many examples the minimiser over the activities usually puts some
    pre-activation exactly on the kink, where dF/dz jumps and Euler chatters instead of converging.
    """
    if activation == "relu":
        ws = random_net([3, 4, 4, 2], std=0.5, seed=1)
        x, y = random_data(3, 2, 5)
    else:
        ws = random_net([4, 6, 6, 3], std=0.5, seed=13)
        x, y = random_data(4, 3, 20)
    return ws, x, y


@pytest.mark.parametrize("activation", ["linear", "tanh", "relu"])
def test_euler_with_tol_reaches_a_fixed_point(activation):
    """The stopping point satisfies the activity-gradient equations, computed here by autograd of an
    independently written energy."""
    ws, x, y = smooth_case(activation)
    zs, info = pc.infer(tt(ws), tt(x), tt(y), activation, n_steps=20_000, tol=1e-10, return_info=True)
    assert info.converged is True and info.max_grad < 1e-10
    t_zs = [z.clone().requires_grad_(True) for z in zs]
    torch_energy_sum(tt(ws), t_zs, tt(x), tt(y), activation).backward()
    assert max(float(z.grad.abs().max()) for z in t_zs) < 1e-10
    # every hidden pre-activation is off the relu kink, so the gradient above is the classical one
    pre = [z.numpy() @ w.T for z, w in zip(zs, ws[1:-1])]
    assert min(np.abs(p).min() for p in pre) > 1e-6
    # near the fixed point a step moves z by dt * |dF_i/dz| < 0.1 * 1e-10: five more steps stay within 5e-11
    again = pc.infer(tt(ws), tt(x), tt(y), activation, n_steps=5, init=zs)
    for a, b in zip(zs, again):
        assert float((a - b).abs().max()) < 5e-11 + 1e-13


def test_heun_nonlinear_is_close_to_the_euler_fixed_point():
    ws = random_net([4, 6, 6, 3], std=0.5, seed=13)
    x, y = random_data(4, 3, 20)
    tight = pc.infer(tt(ws), tt(x), tt(y), "tanh", n_steps=20_000, tol=1e-12)
    heun = pc.infer(tt(ws), tt(x), tt(y), "tanh", method="heun")
    f_tight = float(pc.energy(tt(ws), tight, tt(x), tt(y), "tanh"))
    f_heun = float(pc.energy(tt(ws), heun, tt(x), tt(y), "tanh"))
    assert -1e-12 < f_heun - f_tight < 1e-3 * f_tight


def test_euler_not_converging_raises_or_reports():
    ws = random_net([5, 6, 6, 3], seed=2)
    x, y = random_data(5, 3, 10)
    with pytest.raises(RuntimeError, match=r"tol=1e-10 within n_steps=5"):
        pc.infer(tt(ws), tt(x), tt(y), n_steps=5, tol=1e-10)
    zs, info = pc.infer(tt(ws), tt(x), tt(y), n_steps=5, tol=1e-10, return_info=True)
    assert info.converged is False and info.n_steps == 5 and info.max_grad > 1e-10
    for got, ref in zip(zs, euler_ref(ws, x, y, feedforward_ref(ws, x), 0.1, 5)):
        np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-12)


def test_euler_diverging_raises_floating_point_error():
    ws = random_net([5, 6, 6, 3], std=2.0, seed=2)  # lambda_max of the activity Hessian >> 2 / dt
    x, y = random_data(5, 3, 10)
    with pytest.raises(FloatingPointError, match="dt=1.0"):
        pc.infer(tt(ws), tt(x), tt(y), dt=1.0, n_steps=2000)


def test_init_argument():
    ws = random_net([4, 5, 6, 3], seed=14)
    x, y = random_data(4, 3, 9)
    rng = np.random.default_rng(15)
    z0 = [rng.standard_normal((9, 5)), rng.standard_normal((9, 6))]
    init = tt(z0)
    init_copy = [z.clone() for z in init]
    for activation in ("linear", "tanh"):
        got = pc.infer(tt(ws), tt(x), tt(y), activation, n_steps=4, init=init)
        for g, ref in zip(got, euler_ref(ws, x, y, z0, 0.1, 4, activation)):
            np.testing.assert_allclose(g.numpy(), ref, rtol=0, atol=1e-12)
    for a, b in zip(init, init_copy):  # init is not modified in place
        assert torch.equal(a, b)
    # any start reaches the same (unique) linear equilibrium
    got = pc.infer(tt(ws), tt(x), tt(y), n_steps=50_000, tol=1e-11, init=init)
    for g, ref in zip(got, dense_equilibrium(ws, x, y)):
        np.testing.assert_allclose(g.numpy(), ref, rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match=r"z_2 must have shape \(9, 6\); received \(9, 5\)"):
        pc.infer(tt(ws), tt(x), tt(y), init=[init[0], init[0]])
    with pytest.raises(ValueError, match=r"H=2 hidden layers.*list of 2 tensors.*received 1"):
        pc.infer(tt(ws), tt(x), tt(y), init=init[:1])


@pytest.mark.parametrize("method", ["euler", "exact", "heun"])
def test_network_without_hidden_layers(method):
    ws = random_net([4, 3], seed=16)
    x, y = random_data(4, 3, 8)
    zs, info = pc.infer(tt(ws), tt(x), tt(y), method=method, return_info=True)
    assert zs == [] and info.n_steps == 0
    assert abs(float(pc.energy(tt(ws), [], tt(x), tt(y))) - 0.5 * np.sum((y - x @ ws[0].T) ** 2) / 8) < 1e-12
    (g,) = pc.weight_grads(tt(ws), [], tt(x), tt(y))
    np.testing.assert_allclose(g.numpy(), -(y - x @ ws[0].T).T @ x / 8, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [dict(n_steps=6), dict(n_steps=20_000, tol=1e-9), dict(method="heun", t1=3.0), dict(method="exact")],
    ids=["euler", "euler-tol", "heun", "exact"],
)
def test_inference_is_per_example(kwargs):
    """Duplicating the batch must not change any example's trajectory (the step has no 1/N).

    heun runs to t1 = 3 only, while the trajectory is still moving: there, a step-size rule that
    depended on the batch size (a summed instead of an RMS error norm) would move the result by
    ~3e-4; at t1 = 300 every variant has settled at the same equilibrium and the check would be void."""
    ws = random_net([4, 5, 6, 3], seed=17)
    x, y = random_data(4, 3, 7)
    single = pc.infer(tt(ws), tt(x), tt(y), **kwargs)
    double = pc.infer(tt(ws), tt(np.concatenate([x, x])), tt(np.concatenate([y, y])), **kwargs)
    for a, b in zip(single, double, strict=True):
        assert b.shape[0] == 14
        np.testing.assert_allclose(b[:7].numpy(), a.numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(b[7:].numpy(), a.numpy(), rtol=0, atol=1e-12)


def test_float32_inference():
    ws = random_net([4, 5, 6, 3], seed=18)
    x, y = random_data(4, 3, 10)
    args = (tt(ws, torch.float32), tt(x, torch.float32), tt(y, torch.float32))
    fixed = pc.infer(*args, n_steps=20)
    for got, ref in zip(fixed, euler_ref(ws, x, y, feedforward_ref(ws, x), 0.1, 20)):
        assert got.dtype == torch.float32
        np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-5)
    equilibrium = dense_equilibrium(ws, x, y)
    for kwargs in (dict(method="exact"), dict(n_steps=20_000, tol=1e-5), dict(method="heun", rtol=1e-4, atol=1e-4)):
        for got, ref in zip(pc.infer(*args, **kwargs), equilibrium):
            assert got.dtype == torch.float32
            np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-3)


# ------------------------------------------------------------------------------------------------
# differentiable inference


@pytest.mark.parametrize(
    "method, activation",
    [(m, a) for m in ("euler", "heun") for a in ("linear", "tanh", "relu")] + [("exact", "linear")],
)
def test_differentiable_path_equals_default_path(method, activation):
    ws, x, y = smooth_case(activation)
    kwargs = dict(method=method, n_steps=30) if method == "euler" else dict(method=method)
    default = pc.infer(tt(ws), tt(x), tt(y), activation, **kwargs)
    t_ws = [w.requires_grad_(True) for w in tt(ws)]
    diff = pc.infer(t_ws, tt(x), tt(y), activation, differentiable=True, **kwargs)
    for a, b in zip(default, diff, strict=True):
        assert not a.requires_grad and b.requires_grad
        np.testing.assert_allclose(b.detach().numpy(), a.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("activation", ["linear", "tanh"])
def test_differentiable_euler_gradient_matches_finite_differences(activation):
    """d/dW of the energy after T Euler steps, with the initial (feed-forward) activities held fixed."""
    ws = random_net([3, 4, 4, 2], std=0.6, seed=20)
    x, y = random_data(3, 2, 8)
    z0 = feedforward_ref(ws, x, activation)  # at the base point, then held fixed
    steps = 10

    def unrolled(v):
        return energy_ref(v, euler_ref(v, x, y, z0, 0.1, steps, activation), x, y, activation)

    t_ws = [w.requires_grad_(True) for w in tt(ws)]
    zs = pc.infer(t_ws, tt(x), tt(y), activation, n_steps=steps, differentiable=True)
    pc.energy(t_ws, zs, tt(x), tt(y), activation).backward()
    for w, ref in zip(t_ws, fd_grad(unrolled, ws), strict=True):
        np.testing.assert_allclose(w.grad.numpy(), ref, rtol=0, atol=2e-9)


def test_differentiable_exact_gradient_is_grad_fstar():
    ws = random_net([3, 4, 4, 2], seed=21)
    x, y = random_data(3, 2, 8)
    t_ws = [w.requires_grad_(True) for w in tt(ws)]
    zs = pc.infer(t_ws, tt(x), tt(y), method="exact", differentiable=True)
    pc.energy(t_ws, zs, tt(x), tt(y)).backward()
    for w, ref in zip(t_ws, fd_grad(lambda v: eq5_ref(v, x, y), ws)):
        np.testing.assert_allclose(w.grad.numpy(), ref, rtol=0, atol=1e-8)


@TORCH_JIT_DEPRECATION
@pytest.mark.parametrize("widths", [[3, 2, 3], [3, 2, 2, 3]], ids=["H1", "H2"])
def test_unrolled_energy_hessian_at_origin_approaches_eq8(widths):
    """T2-unrolled: Hessian of F after T Euler steps (dt 0.1, feed-forward init = 0 at the origin,
    held fixed) converges to Eq. 8: < 5e-2 at T=20, < 5e-4 at T=50, < 1e-6 at T=200."""
    rng = np.random.default_rng(0)
    x = rng.normal(1, 0.1, size=(64, 3))  # toy data of the authors' notebooks, y = -x
    y = -x
    expected = eq8_by_index(widths, x, y)
    ws = [torch.zeros(b, a, dtype=F64) for a, b in zip(widths[:-1], widths[1:])]
    tx, ty = tt(x), tt(y)
    deviations = {}
    for steps, bound in ((20, 5e-2), (50, 5e-4), (200, 1e-6)):

        def unrolled(w, steps=steps):
            return pc.energy(w, pc.infer(w, tx, ty, n_steps=steps, differentiable=True), tx, ty)

        h = hessian.hessian(unrolled, ws).numpy()
        deviations[steps] = np.abs(h - expected).max()
        assert deviations[steps] < bound, (steps, deviations[steps])
    assert deviations[200] < deviations[50] < deviations[20]
    # the limit itself: the Hessian of F* at the origin (autodiff of dln's Eq. 5) is Eq. 8
    exact = hessian.hessian(lambda w: dln.equilibrated_energy(w, tx, ty), ws).numpy()
    assert np.abs(exact - expected).max() < 1e-10


# ------------------------------------------------------------------------------------------------
# unrolled_energy: the energy after T Euler steps as a function of the weights


@pytest.mark.parametrize("activation", ["linear", "tanh", "relu"])
def test_unrolled_energy_matches_numpy_euler_and_infer(activation):
    ws = random_net([4, 5, 6, 3], std=0.6, seed=22)
    x, y = random_data(4, 3, 9)
    z0 = feedforward_ref(ws, x, activation)
    for steps in (0, 1, 12):
        expected = energy_ref(ws, euler_ref(ws, x, y, z0, 0.1, steps, activation), x, y, activation)
        got = pc.unrolled_energy(tt(ws), tt(x), tt(y), steps, activation=activation)
        assert got.ndim == 0 and abs(float(got) - expected) < 1e-12
        via_infer = pc.energy(tt(ws), pc.infer(tt(ws), tt(x), tt(y), activation, n_steps=steps), tt(x), tt(y), activation)
        assert abs(float(via_infer) - expected) < 1e-12
    # T = 0 is the loss (feed-forward activities: every hidden error is zero)
    loss = 0.5 * np.sum((y - z0[-1] @ ws[-1].T) ** 2) / 9
    assert abs(float(pc.unrolled_energy(tt(ws), tt(x), tt(y), 0, activation=activation)) - loss) < 1e-12


def test_unrolled_energy_limit_is_fstar_and_dt_and_init_are_used():
    ws = random_net([4, 5, 3], seed=23)  # H = 1: the activity Hessian is >= I, Euler contracts by 0.9 per step
    x, y = random_data(4, 3, 9)
    assert abs(float(pc.unrolled_energy(tt(ws), tt(x), tt(y), 400)) - eq5_ref(ws, x, y)) < 1e-12
    rng = np.random.default_rng(24)
    z0 = [rng.standard_normal((9, 5))]
    expected = energy_ref(ws, euler_ref(ws, x, y, z0, 0.25, 6), x, y)
    assert abs(float(pc.unrolled_energy(tt(ws), tt(x), tt(y), 6, dt=0.25, init=tt(z0))) - expected) < 1e-12
    with pytest.raises(ValueError, match=r"z_1 must have shape \(9, 5\); received \(9, 4\)"):
        pc.unrolled_energy(tt(ws), tt(x), tt(y), 3, init=[torch.zeros(9, 4, dtype=F64)])


def test_unrolled_energy_gradient_holds_the_initial_activities_fixed():
    ws = random_net([3, 4, 4, 2], std=0.6, seed=25)
    x, y = random_data(3, 2, 8)
    z0 = feedforward_ref(ws, x, "tanh")
    t_ws = [w.requires_grad_(True) for w in tt(ws)]
    pc.unrolled_energy(t_ws, tt(x), tt(y), 10, activation="tanh").backward()
    fd = fd_grad(lambda v: energy_ref(v, euler_ref(v, x, y, z0, 0.1, 10, "tanh"), x, y, "tanh"), ws)
    for w, ref in zip(t_ws, fd, strict=True):
        np.testing.assert_allclose(w.grad.numpy(), ref, rtol=0, atol=2e-9)


def test_unrolled_energy_vmaps_over_a_grid_of_weights():
    """A landscape over a 2-D grid of chain weights (w1, w2) in one torch.func.vmap call."""
    rng = np.random.default_rng(26)
    x, y = rng.standard_normal((6, 1)), rng.standard_normal((6, 1))
    grid = np.stack(np.meshgrid(np.linspace(-1.5, 1.5, 5), np.linspace(-1, 1, 4)), -1).reshape(-1, 2)

    def at(w):
        return pc.unrolled_energy([w[0].reshape(1, 1), w[1].reshape(1, 1)], tt(x), tt(y), 15)

    got = torch.func.vmap(at)(tt(grid)).numpy()
    expected = []
    for w1, w2 in grid:
        ws = [np.array([[w1]]), np.array([[w2]])]
        expected.append(energy_ref(ws, euler_ref(ws, x, y, feedforward_ref(ws, x), 0.1, 15), x, y))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_steps=-1), r"n_steps.*received.*-1"),
        (dict(n_steps=2.5), r"n_steps.*received.*2.5"),
        (dict(n_steps=5, dt=0.0), r"dt.*received.*0.0"),
    ],
)
def test_unrolled_energy_rejects_bad_steps(kwargs, message):
    """Like infer: dt > 0 and an integer n_steps >= 0 (now n_steps=-1 silently returns the loss and
    n_steps=2.5 silently runs 2 steps)."""
    ws = tt(random_net([3, 4, 2]))
    x, y = random_data(3, 2, 5)
    with pytest.raises(ValueError, match=message):
        pc.unrolled_energy(ws, tt(x), tt(y), **kwargs)


# ------------------------------------------------------------------------------------------------
# bad input


def test_bad_input_messages():
    ws = tt(random_net([4, 5, 6, 3]))
    x, y = tt(np.zeros((7, 4))), tt(np.zeros((7, 3)))
    zs = [torch.zeros(7, 5, dtype=F64), torch.zeros(7, 6, dtype=F64)]
    with pytest.raises(ValueError, match=r"unknown method 'rk4'; expected one of \['euler', 'exact', 'heun'\]"):
        pc.infer(ws, x, y, method="rk4")
    with pytest.raises(ValueError, match=r"unknown activation 'gelu'"):
        pc.infer(ws, x, y, activation="gelu")
    with pytest.raises(ValueError, match=r"unknown activation 'gelu'"):
        pc.energy(ws, zs, x, y, activation="gelu")
    with pytest.raises(ValueError, match=r"method='exact' .*linear network only; received activation='tanh'"):
        pc.infer(ws, x, y, activation="tanh", method="exact")
    with pytest.raises(ValueError, match=r"H=2 hidden layers.*list of 2 tensors.*received 3"):
        pc.energy(ws, [*zs, zs[0]], x, y)
    with pytest.raises(TypeError, match=r"activities must be a list.*received Tensor"):
        pc.energy(ws, zs[0], x, y)
    with pytest.raises(ValueError, match=r"z_1 must have shape \(7, 5\); received \(6, 5\)"):
        pc.weight_grads(ws, [zs[0][:6], zs[1]], x, y)
    with pytest.raises(TypeError, match=r"z_2 has dtype torch.float32 but the weights are torch.float64"):
        pc.prediction_errors(ws, [zs[0], zs[1].float()], x, y)
    with pytest.raises(ValueError, match=r"y must have shape \(N, 3\).*received shape \(7, 4\)"):
        pc.infer(ws, x, tt(np.zeros((7, 4))))
    with pytest.raises(ValueError, match=r"same number of examples; received N=7 and N=6"):
        pc.energy(ws, zs, x, y[:6])
    with pytest.raises(TypeError, match=r"y has dtype torch.float32 but the weights are torch.float64"):
        pc.infer(ws, x, y.float())
    with pytest.raises(ValueError, match=r"W3 has shape \(3, 5\) but W2 outputs 6 units"):
        pc.infer([ws[0], ws[1], tt(np.zeros((3, 5)))], x, y)
    with pytest.raises(ValueError, match=r"dt > 0 .*received dt=0.0, n_steps=50"):
        pc.infer(ws, x, y, dt=0.0)
    with pytest.raises(ValueError, match=r"received dt=0.1, n_steps=-1"):
        pc.infer(ws, x, y, n_steps=-1)
    with pytest.raises(ValueError, match=r"tol must be positive or None; received 0"):
        pc.infer(ws, x, y, tol=0)
    with pytest.raises(ValueError, match=r"rtol > 0 .*received rtol=-0.001"):
        pc.infer(ws, x, y, method="heun", rtol=-1e-3)


def test_masked_inference_options():
    """A mask of ones is plain PC; exact inference has no masked variant; a wrong-shaped mask is refused."""
    gen = torch.Generator().manual_seed(3)
    ws = [0.5 * torch.randn(b, a, generator=gen, dtype=torch.float64) for a, b in [(4, 5), (5, 5), (5, 3)]]
    x = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    ones = torch.ones_like(y)
    for a, b in zip(pc.infer(ws, x, y, "tanh", mask=ones), pc.infer(ws, x, y, "tanh")):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(ValueError, match="no masked variant"):
        pc.infer(ws, x, y, method="exact", mask=ones)
    with pytest.raises(ValueError, match="target's shape"):
        pc.infer(ws, x, y, mask=ones[:, :2])
