"""Matrix completion (Figure 6): the masked objectives and runs against independent computations.

Expectations come from autograd of separately written objectives (nn.MSELoss of the masked
tensors, the masked energy), a dense linear solve of the (quadratic) linear-network energy in the
free-activity formulation of the mask, the unmasked routines of :mod:`pcsaddles.pc`, and the
definition of a checkpoint (the least-gradient iterate of each rank).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pcsaddles import completion as C
from pcsaddles import curves, dln, init, normalisation, pc, train
from reference import F64, TORCH_ACT

WIDTHS = [5, 4, 3, 5]


def _setup(seed=0):
    task = C.make_task(n=5, rank=2, seed=seed)
    ws = init.gaussian(WIDTHS, 0.5, seed=seed + 1)
    return task, ws


def test_task_is_rank_r_and_independent_of_other_streams():
    task = C.make_task(seed=0)
    assert int(torch.linalg.matrix_rank(task.target)) == 3
    torch.manual_seed(123)
    _ = torch.randn(1000)  # the global stream must not matter
    again = C.make_task(seed=0)
    assert torch.equal(task.target, again.target) and torch.equal(task.mask, again.mask)
    assert set(task.mask.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(task.x, task.mask * task.target)


def test_masked_mse_is_mse_of_masked_tensors():
    task = C.make_task(seed=1)
    out = torch.randn(10, 10, dtype=F64, generator=torch.Generator().manual_seed(0))
    ref = torch.nn.functional.mse_loss(out * task.mask, task.target * task.mask)
    assert abs(float(C.masked_mse(out, task.target, task.mask) - ref)) < 1e-14


def test_numerical_rank():
    u = torch.linalg.qr(torch.randn(10, 10, dtype=F64, generator=torch.Generator().manual_seed(0)))[0]
    out = u @ torch.diag(torch.tensor([3.0, 0.5, 0.11, 0.09] + [0.0] * 6, dtype=F64)) @ u.T
    assert C.numerical_rank(out, 0.1) == 3


@pytest.mark.parametrize("activation", ["linear", "tanh", "relu"])
def test_masked_bp_gradient_is_that_of_nn_mseloss_of_the_masked_tensors(activation):
    task, ws = _setup()
    ws = [w.requires_grad_() for w in ws]
    h = task.x
    for i, w in enumerate(ws):
        h = h @ w.T
        if i < len(ws) - 1:
            h = TORCH_ACT[activation](h)
    loss = torch.nn.functional.mse_loss(h * task.mask, task.target * task.mask)
    ref = torch.autograd.grad(loss, ws)
    _, grads = train.loss_grads([w.detach() for w in ws], task.x, task.target, activation, mask=task.mask)
    scale = normalisation.grad_scale("bp", "authors", *task.target.shape)  # nn.MSELoss = (2 / d) x Eq. 1
    for g, r in zip([scale * g for g in grads], ref):
        torch.testing.assert_close(g, r, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("activation", ["linear", "tanh", "relu"])
def test_masked_energy_gradients_match_autograd(activation):
    task, ws = _setup()
    gen = torch.Generator().manual_seed(5)
    z = [torch.randn(5, d, dtype=F64, generator=gen) for d in WIDTHS[1:-1]]
    f = TORCH_ACT[activation]

    def energy(weights, acts):  # written independently: hidden errors, masked output error
        zs = [task.x, *acts]
        total = sum(((zs[i + 1] - f(zs[i] @ weights[i].T)) ** 2).sum() for i in range(len(acts)))
        total = total + ((task.mask * (task.target - zs[-1] @ weights[-1].T)) ** 2).sum()
        return 0.5 * total / task.x.shape[0]

    wr = [w.clone().requires_grad_() for w in ws]
    zr = [t.clone().requires_grad_() for t in z]
    e = energy(wr, zr)
    assert abs(float(e.detach() - C.masked_energy(ws, z, task.x, task.target, task.mask, activation))) < 1e-12
    g_w = torch.autograd.grad(e, wr, retain_graph=True)
    g_z = torch.autograd.grad(e, zr)
    for g, r in zip(pc.weight_grads(ws, z, task.x, task.target, activation, mask=task.mask), g_w):
        torch.testing.assert_close(g, r, rtol=1e-11, atol=1e-13)
    # one Euler step moves z by -dt * N * dF/dz (per-example gradient)
    z1 = pc.infer(ws, task.x, task.target, activation, dt=0.1, n_steps=1, init=z, mask=task.mask)
    for a, b, g in zip(z1, z, g_z):
        torch.testing.assert_close(a, b - 0.1 * task.x.shape[0] * g, rtol=1e-11, atol=1e-13)


def test_masked_equilibrium_equals_free_activity_solve():
    """Linear net: the masked energy is quadratic in the hidden activities; Euler must reach the
    minimiser of the energy in which the unobserved outputs are *free activities* (solved densely)."""
    task, ws = _setup(seed=2)
    n, dims = task.x.shape[0], WIDTHS[1:-1]
    free = (task.mask == 0).nonzero()  # unobserved output entries (i, j)
    sizes = [n * d for d in dims]
    p = sum(sizes) + len(free)

    def full_energy(v):  # hidden activities and free outputs packed in v
        acts, k = [], 0
        for d, s in zip(dims, sizes):
            acts.append(v[k:k + s].reshape(n, d))
            k += s
        out = task.target.clone().to(v.dtype)
        out = out.index_put((free[:, 0], free[:, 1]), v[k:])
        zs = [task.x, *acts, out]
        return 0.5 * sum(((zs[i + 1] - zs[i] @ w.T) ** 2).sum() for i, w in enumerate(ws))

    def grad(v):
        v = v.clone().requires_grad_()
        return torch.autograd.grad(full_energy(v), v)[0]

    v0 = torch.zeros(p, dtype=F64)
    grad0 = grad(v0)
    hess = torch.stack([grad(e) - grad0 for e in torch.eye(p, dtype=F64)], dim=1)  # exact: quadratic energy
    v_star = torch.linalg.solve(hess, -grad0)  # exact minimiser of the quadratic
    z = pc.infer(ws, task.x, task.target, "linear", dt=0.1, n_steps=4000, mask=task.mask)
    k = 0
    for zi, d, s in zip(z, dims, sizes):
        torch.testing.assert_close(zi, v_star[k:k + s].reshape(n, d), rtol=1e-9, atol=1e-10)
        k += s


@pytest.mark.parametrize("activation", ["linear", "tanh"])
def test_full_mask_reduces_to_plain_pc_and_bp(activation):
    task, ws = _setup(seed=3)
    ones = torch.ones_like(task.mask)
    z_ref = pc.infer(ws, task.x, task.target, activation, n_steps=30)
    z = pc.infer(ws, task.x, task.target, activation, n_steps=30, mask=ones)
    z_none = pc.infer(ws, task.x, task.target, activation, n_steps=30, mask=None)
    for a, b, c in zip(z, z_ref, z_none):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(c, b, rtol=1e-10, atol=1e-12)
    for g, r in zip(pc.weight_grads(ws, z, task.x, task.target, activation, mask=ones),
                    pc.weight_grads(ws, z_ref, task.x, task.target, activation)):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-12)
    _, g_masked = train.loss_grads(ws, task.x, task.target, activation, mask=ones)
    _, g_ref = train.loss_grads(ws, task.x, task.target, activation)
    for g, r in zip(g_masked, g_ref):
        torch.testing.assert_close(g, r, rtol=1e-12, atol=1e-14)


def test_run_bp_checkpoints_and_divergence():
    task = C.make_task(n=6, rank=2, seed=0)
    ws = init.gaussian([6, 8, 8, 6], 0.3, seed=0)
    run = C.run_bp(ws, task, lr=0.05, max_iter=3000, rank_every=1)
    converged = curves.first_below(run.train_loss, 1e-2)
    assert converged is not None and converged == run.n_iter - 1 and run.stopped_early  # stops below 1e-2
    mon = run.monitor
    assert len(mon.rank) == run.n_iter and mon.checkpoints
    for r, c in mon.checkpoints.items():  # each checkpoint is the least-gradient iterate of its rank
        same = mon.rank == r
        assert c.grad_norm == pytest.approx(run.grad_norm[mon.rank_iter[same]].min())
        assert c.loss == pytest.approx(run.train_loss[c.iteration])
        assert C.numerical_rank(dln.forward(c.weights, task.x)[-1]) == r
    bad = C.run_bp(ws, task, lr=1e3, max_iter=100, checkpoints=False)
    assert bad.diverged and not bad.monitor.checkpoints and curves.first_below(bad.train_loss, 1e-2) is None


def test_run_pc_reports_divergent_inference_instead_of_raising():
    """Euler inference with dt far above 2 / lambda_max of the activity Hessian blows up; the run
    stops, keeps the iterations it finished, and says so."""
    task = C.make_task(n=6, rank=2, seed=0)
    ws = init.gaussian([6, 8, 8, 6], 1.0, seed=0)
    lam_max = max(torch.linalg.eigvalsh(dln.activity_hessian(ws)).max().item(), 1.0)
    run = C.run_pc(ws, task, dt=50.0 / lam_max, n_steps=200, max_iter=5)
    assert run.diverged and run.n_iter == 0
    with pytest.raises(FloatingPointError, match="non-finite"):
        pc.infer(ws, task.x, task.target, dt=50.0 / lam_max, n_steps=200, mask=task.mask)
    fine = C.run_pc(ws, task, dt=1.0 / lam_max, max_iter=3)  # a stable step
    assert not fine.diverged and fine.n_iter == 3


def test_unmasked_pc_reports_the_masked_loss():
    """The authors' variant clamps the output to the full target, but its reported loss is still
    nn.MSELoss of the masked tensors (the task's loss)."""
    task, ws = _setup(seed=4)
    run = C.run_pc(ws, task, max_iter=1, masked=False)
    out = dln.forward(ws, task.x)[-1]
    assert run.train_loss[0] == pytest.approx(float(torch.nn.functional.mse_loss(out * task.mask, task.target * task.mask)),
                                              abs=1e-14)
    masked = C.run_pc(ws, task, max_iter=2)
    unmasked = C.run_pc(ws, task, max_iter=2, masked=False)
    assert masked.train_loss[0] == unmasked.train_loss[0] and masked.train_loss[1] != unmasked.train_loss[1]


def test_sharpness_is_the_top_eigenvalue_of_the_dense_hessian():
    from reprokit import hessian as rh

    task, ws = _setup(seed=5)
    dense = rh.hessian(lambda w: C.masked_mse(dln.forward(w, task.x, "tanh")[-1], task.target, task.mask), ws)
    lam = float(torch.linalg.eigvalsh(dense)[-1])
    assert C.sharpness(ws, task, "tanh", n_iter=80) == pytest.approx(lam, rel=1e-8)


def test_gradient_descent_oscillates_above_two_over_lr_and_settles_below():
    """The edge-of-stability reading of Figure 6: on a quadratic with curvature lambda, GD with
    lr > 2 / lambda keeps a large gradient, GD with lr < 2 / lambda drives it to zero."""
    task = C.make_task(n=6, rank=1, seed=1)
    ws = [torch.zeros(6, 6, dtype=F64)]  # a linear model: L_mse is quadratic in W
    ws[0][0, 0] = 0.1
    lam = C.sharpness(ws, task, "linear", n_iter=40)
    fast = C.run_bp(ws, task, lr=2.2 / lam, max_iter=200, stop_loss=0.0, checkpoints=False)
    slow = C.run_bp(ws, task, lr=1.8 / lam, max_iter=200, stop_loss=0.0, checkpoints=False)
    assert fast.diverged or fast.grad_norm[-1] > fast.grad_norm[0]
    assert slow.grad_norm[-1] < 1e-3 * slow.grad_norm[0]


def test_plateau_gradients_and_starts():
    task = C.make_task(n=6, rank=2, seed=0)
    ws = init.gaussian([6, 8, 8, 6], 0.3, seed=0)
    run = C.run_bp(ws, task, lr=0.05, max_iter=3000, rank_every=1)
    rows = C.plateau_gradients(run)
    assert [r["rank"] for r in rows] == [int(k) for k, _ in __import__("itertools").groupby(run.monitor.rank)]
    first = rows[0]
    g = run.grad_norm[first["first"]:first["last"] + 1]  # every iteration is monitored (rank_every=1)
    assert first["grad_median"] == float(np.median(g))
    starts = C.starts_of(ws, run)
    assert starts[0].iteration == 0 and starts[0].loss == run.train_loss[0]
    assert all(starts[r] is run.monitor.checkpoints[r] for r in starts if r)


def test_follow_bp_counts_sign_changes_and_matches_the_run():
    task, ws = _setup(seed=6)
    out = C.follow_bp(ws, task, 0.05, 5, "relu")
    run = C.run_bp(ws, task, lr=0.05, activation="relu", max_iter=5, stop_loss=0.0, checkpoints=False)
    np.testing.assert_allclose(out["grad_norm"], run.grad_norm, rtol=1e-12)
    assert out["flips"][0] == 0
    # the flips between the first two steps, counted by hand from the pre-activations
    w1 = [w - 0.05 * g for w, g in zip(ws, [normalisation.grad_scale("bp", "authors", 5, 5) * g
                                              for g in train.loss_grads(ws, task.x, task.target, "relu", mask=task.mask)[1]])]

    def signs(w):
        h, out_ = task.x, []
        for W in w[:-1]:
            a = h @ W.T
            out_.append(a > 0)
            h = torch.relu(a)
        return torch.cat(out_, 1)

    assert out["flips"][1] == int((signs(w1) != signs(ws)).sum())
