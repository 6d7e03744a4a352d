"""Tests of pcsaddles.train: BP and PC steps under each normalisation convention and the training
loop (masks, monitors, divergence, checkpoints).

Expectations are derived independently of the module (pcsaddles_training_reference): objectives
written out and differentiated with torch.autograd (the paper's 1/(2N) loss,
``torch.nn.functional.mse_loss`` for ``nn.MSELoss``, the batch *sum* 1/2 sum ||r||^2), Theorem 1
written with an explicit inverse for the equilibrated energy, and the chain's closed-form
equilibrium.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pcsaddles import batching, data, init, normalisation, stopping, train  # noqa: E402
from pcsaddles_training_reference import (F64, autograd, batch, equilibrated_ref, max_diff, net,  # noqa: E402
                                          objective_ref, predict)
from reference import TORCH_ACT  # noqa: E402


# ------------------------------------------------------------------------------------------------
# normalisations and single steps


@pytest.mark.parametrize("activation", ["linear", "tanh", "relu"])
def test_loss_grads_equal_autograd_of_the_paper_loss(activation):
    ws = net([5, 7, 6, 3], seed=3)
    x, y = batch(5, 3, 40)
    out, grads = train.loss_grads(ws, x, y, activation)
    assert torch.allclose(out, predict(ws, x, activation), atol=1e-14, rtol=0)
    assert max_diff(grads, autograd(lambda w: objective_ref("paper", w, x, y, activation), ws)) < 1e-13


@pytest.mark.parametrize("convention, kind", [("paper", "paper"), ("authors", "mse")])
@pytest.mark.parametrize("activation", ["linear", "tanh"])
def test_bp_step_is_sgd_on_the_conventions_objective(convention, kind, activation):
    ws = net([4, 6, 6, 3], seed=5)
    x, y = batch(4, 3, 32)
    lr = 0.3
    step = train.bp_step(ws, x, y, lr, activation=activation, convention=convention, report=kind)
    expected = [w - lr * g for w, g in zip(ws, autograd(lambda w: objective_ref(kind, w, x, y, activation), ws))]
    assert max_diff(step.weights, expected) < 1e-13
    assert abs(float(step.loss) - float(objective_ref(kind, ws, x, y, activation))) < 1e-14
    assert max_diff(ws, net([4, 6, 6, 3], seed=5)) == 0.0  # inputs untouched


def test_matched_factor_is_the_ratio_of_the_authors_pc_and_bp_normalisations():
    n, d_y = 64, 3
    ws = net([3, 4, 4, 3], seed=2)
    x, y = batch(3, d_y, n)
    g_mse = autograd(lambda w: objective_ref("mse", w, x, y), ws)
    g_sum = autograd(lambda w: objective_ref("half_sum", w, x, y), ws)
    factor = normalisation.matched_lr_factor(n, d_y)
    assert factor == 96.0  # N d_y / 2 for the 3-D toy network
    assert max_diff([factor * g for g in g_mse], g_sum) < 1e-12
    # the matched BP step equals SGD on the authors' PC normalisation (1/2 batch sum)
    lr = 1e-3
    step = train.bp_step(ws, x, y, lr, convention="authors", lr_factor=factor)
    assert max_diff(step.weights, [w - lr * g for w, g in zip(ws, g_sum)]) < 1e-14
    # the PC factor: at T = 0 (feed-forward activities) only the output error is non-zero, so the
    # authors' PC gradient of W_L equals the gradient of 1/2 sum ||r||^2, and 0 for the other layers
    pc_step = train.pc_step(ws, x, y, lr, n_steps=0, convention="authors")
    assert max_diff(pc_step.grads[-1:], g_sum[-1:]) < 1e-12
    assert max(float(g.abs().max()) for g in pc_step.grads[:-1]) < 1e-15


@pytest.mark.parametrize("convention, scale", [("paper", 1.0), ("authors", 24.0)])
def test_pc_step_with_long_inference_is_gradient_descent_on_the_equilibrated_energy(convention, scale):
    ws = net([3, 5, 4, 2], std=0.6, seed=7)
    x, y = batch(3, 2, 24)
    lr = 0.05
    step = train.pc_step(ws, x, y, lr, n_steps=3000, dt=0.1, convention=convention)
    grads = autograd(lambda w: equilibrated_ref(w, x, y), ws)
    assert max_diff(step.grads, [scale * g for g in grads]) < 1e-9 * scale
    assert max_diff(step.weights, [w - lr * scale * g for w, g in zip(ws, grads)]) < 1e-10 * scale


def test_pc_step_activity_matches_the_chain_closed_form():
    """1-hidden-unit chain: z* = (w1 x + w2 y) / (1 + w2^2) (the minimiser of the quadratic energy) after 300 Euler steps."""
    ws = [torch.tensor([[0.7]], dtype=F64), torch.tensor([[-1.3]], dtype=F64)]
    toy = data.toy_gaussian(64, 1, seed=4)
    step = train.pc_step(ws, toy.x, toy.y, 0.4, n_steps=300)
    w1, w2 = 0.7, -1.3
    z_star = (w1 * toy.x + w2 * toy.y) / (1 + w2**2)
    assert float((step.activities[0] - z_star).abs().max()) < 1e-10


# ------------------------------------------------------------------------------------------------
# the training loop


def test_train_equals_repeated_steps_and_records_before_the_update():
    ws = net([3, 4, 4, 3], std=0.3, seed=1)
    toy = data.toy_gaussian(64 * 6, 3, seed=2)
    xt, yt = torch.ones(1, 3, dtype=F64), -torch.ones(1, 3, dtype=F64)
    for rule in ("bp", "pc"):
        hist = train.train(rule, ws, batching.fresh_batches(toy, 64), 6, 2e-3, convention="authors", report="mse",
                           n_steps=30, test=(xt, yt), test_every=2, record_trajectory=True)
        cur = ws
        for i, (x, y) in enumerate(batching.fresh_batches(toy, 64)):
            assert hist.train_loss[i] == pytest.approx(float(objective_ref("mse", cur, x, y)), abs=1e-14)
            if rule == "bp":
                s = train.bp_step(cur, x, y, 2e-3, convention="authors")
                g = autograd(lambda w: objective_ref("mse", w, x, y), cur)  # the gradient descended
                assert hist.grad_norm[i] == pytest.approx(float(torch.cat([t.reshape(-1) for t in g]).norm()), rel=1e-12)
            else:
                s = train.pc_step(cur, x, y, 2e-3, n_steps=30, convention="authors")
                assert hist.grad_norm[i] == pytest.approx(float(torch.cat([t.reshape(-1) for t in s.grads]).norm()), rel=1e-12)
            assert np.allclose(hist.trajectory[i], torch.cat([w.reshape(-1) for w in cur]).numpy(), atol=1e-15, rtol=0)
            cur = s.weights
        assert max_diff(hist.weights, cur) < 1e-14
        assert hist.trajectory.shape == (7, 3 * 4 + 4 * 4 + 4 * 3)
        assert list(hist.test_iter) == [0, 2, 4, 6]
        assert hist.test_loss[-1] == pytest.approx(float(objective_ref("mse", cur, xt, yt)), abs=1e-14)
        assert hist.test_loss[0] == pytest.approx(float(objective_ref("mse", ws, xt, yt)), abs=1e-14)


def test_train_keeps_dtype_and_leaves_inputs_alone():
    ws = net([2, 3, 2], seed=0, dtype=torch.float32)
    before = [w.clone() for w in ws]
    toy = data.toy_gaussian(64 * 3, 2, seed=0, dtype=torch.float32)
    for rule in ("bp", "pc"):
        hist = train.train(rule, ws, batching.fresh_batches(toy, 64), 3, 0.1, activation="tanh", n_steps=5)
        assert all(w.dtype == torch.float32 for w in hist.weights)
        assert hist.train_loss.dtype == np.float32 and hist.n_iter == 3
    assert max_diff(ws, before) == 0.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_train_on_cuda_matches_cpu():
    ws = net([3, 4, 3], seed=0)
    toy = data.toy_gaussian(64 * 4, 3, seed=0)
    cpu = train.train("pc", ws, batching.fresh_batches(toy, 64), 4, 0.1, n_steps=20)
    gpu = train.train("pc", [w.cuda() for w in ws], batching.fresh_batches(toy.to(device="cuda"), 64), 4, 0.1, n_steps=20)
    assert np.allclose(cpu.train_loss, gpu.train_loss, rtol=1e-10, atol=0)


def test_training_input_errors():
    ws = net([2, 3, 2])
    toy = data.toy_gaussian(64 * 2, 2, seed=0)
    with pytest.raises(ValueError, match="ran out"):
        train.train("bp", ws, batching.fresh_batches(toy, 64), 3, 0.1)
    with pytest.raises(ValueError, match="rule"):
        train.train("sgd", ws, batching.fresh_batches(toy, 64), 1, 0.1)
    with pytest.raises(ValueError, match="lr"):
        train.train("bp", ws, batching.fresh_batches(toy, 64), 1, -0.1)


class _Interrupt(Exception):
    pass


@pytest.mark.parametrize("rule", ["bp", "pc"])
def test_a_run_interrupted_after_a_checkpoint_resumes_to_the_uninterrupted_result(rule):
    ws = init.gaussian([5, 4, 4, 10], 0.3, seed=0)
    gen = torch.Generator().manual_seed(0)
    ds = data.Dataset(torch.randn(40, 5, generator=gen, dtype=torch.float64),
                      torch.randn(40, 10, generator=gen, dtype=torch.float64), None,
                      dict(name="toy", source="randn", n_samples=40, split="train", note=""))

    def fit(**kw):
        return train.train(rule, ws, batching.epoch_batches(ds, 8, seed=1), 23, 0.05, activation="tanh",
                           test=(ds.x, ds.y), test_every=5, stop=stopping.stop_on_plateau(5, -1.0), **kw)

    full = fit()
    saved = []

    def checkpoint(make_state):  # save at iteration 11, then "crash" at 14
        state = make_state()
        if state["iteration"] == 11:
            saved.append(state)
        if state["iteration"] == 14:
            raise _Interrupt
        return True

    with pytest.raises(_Interrupt):
        fit(checkpoint=checkpoint)
    resumed = fit(resume=saved[0])
    np.testing.assert_array_equal(resumed.train_loss, full.train_loss)
    np.testing.assert_array_equal(resumed.grad_norm, full.grad_norm)
    np.testing.assert_array_equal(resumed.test_iter, full.test_iter)
    np.testing.assert_array_equal(resumed.test_loss, full.test_loss)
    for a, b in zip(resumed.weights, full.weights):
        assert torch.equal(a, b)
    assert all(torch.equal(a, b) for a, b in zip(ws, init.gaussian([5, 4, 4, 10], 0.3, seed=0)))  # inputs untouched
    bad = dict(saved[0], iteration=99)
    with pytest.raises(ValueError, match="does not fit this run"):
        fit(resume=bad)


@pytest.mark.parametrize("act", ["linear", "tanh", "relu"])
def test_masked_loss_grads_match_autograd(act):
    gen = torch.Generator().manual_seed(11)
    ws = [0.5 * torch.randn(b, a, generator=gen, dtype=torch.float64) for a, b in [(6, 5), (5, 5), (5, 4)]]
    x = torch.randn(7, 6, generator=gen, dtype=torch.float64)
    y = torch.randn(7, 4, generator=gen, dtype=torch.float64)
    mask = (torch.rand(7, 4, generator=gen) > 0.3).to(torch.float64)
    leaves = [w.clone().requires_grad_(True) for w in ws]
    h = x
    for i, w in enumerate(leaves):  # an independent autograd forward pass
        h = h @ w.T
        if i < len(leaves) - 1:
            h = TORCH_ACT[act](h)
    loss = 0.5 * (mask * (y - h)).pow(2).sum() / x.shape[0]
    expected = torch.autograd.grad(loss, leaves)
    _, got = train.loss_grads(ws, x, y, act, mask=mask)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="mask must be a tensor of the target's shape"):
        train.loss_grads(ws, x, y, act, mask=mask[:, :3])


def _masked_gd_reference(rule, ws, x, y, mask, lr, n_iter, n_steps, dt=0.1):
    """Full-batch masked gradient descent of a linear net with one hidden layer, written out with
    autograd: BP descends nn.MSELoss of the masked tensors, mean((mask (W2 W1 x - y))^2); PC clamps
    the output to the observed entries (output error mask * (y - W2 z)), runs ``n_steps`` Euler
    steps on the activity gradient of E = 1/2 sum ||e||^2 (the authors' batch sum) from the
    feed-forward pass, then descends E in the weights at those activities."""
    w1, w2 = (w.clone() for w in ws)

    def batch_energy(a, b, z):
        return 0.5 * ((z - x @ a.T) ** 2).sum() + 0.5 * ((mask * (y - z @ b.T)) ** 2).sum()

    losses = []
    for _ in range(n_iter):
        losses.append(float(((mask * (x @ w1.T @ w2.T - y)) ** 2).mean()))
        if rule == "bp":
            g1, g2 = autograd(lambda w: ((mask * (x @ w[0].T @ w[1].T - y)) ** 2).mean(), [w1, w2])
        else:
            z = x @ w1.T
            for _ in range(n_steps):
                zz = z.clone().requires_grad_(True)
                (gz,) = torch.autograd.grad(batch_energy(w1, w2, zz), zz)
                z = (zz - dt * gz).detach()
            g1, g2 = autograd(lambda w: batch_energy(w[0], w[1], z), [w1, w2])
        w1, w2 = w1 - lr * g1, w2 - lr * g2
    return np.array(losses), [w1, w2]


@pytest.mark.parametrize("rule", ["bp", "pc"])
def test_masked_full_batch_training_equals_the_written_out_objective(rule):
    ws = net([4, 3, 4], std=0.4, seed=3)
    x, y = batch(4, 4, 4, seed=5)
    mask = torch.tensor([[1, 0, 1, 1], [1, 1, 0, 1], [0, 1, 1, 1], [1, 1, 1, 0]], dtype=F64)
    hist = train.train(rule, ws, batching.full_batch(x, y), 5, 0.05, convention="authors", report="mse", mask=mask,
                       n_steps=40)
    losses, final = _masked_gd_reference(rule, ws, x, y, mask, 0.05, 5, n_steps=40)
    np.testing.assert_allclose(hist.train_loss, losses, rtol=1e-12, atol=0)
    assert max_diff(hist.weights, final) < 1e-12
    assert hist.settings["masked"]


def test_monitor_sees_the_weights_before_each_update_and_diverging_runs_stop():
    ws = net([3, 4, 2], std=0.5, seed=1)
    x, y = batch(3, 2, 8)
    seen = []

    def monitor(it, weights, xb, yb, out, loss, gnorm):
        assert xb is x and yb is y
        seen.append((it, [w.clone() for w in weights], float(loss)))

    hist = train.train("bp", ws, batching.full_batch(x, y), 3, 0.1, monitor=monitor)
    assert [s[0] for s in seen] == [0, 1, 2] and hist.monitor is monitor
    assert max_diff(seen[0][1], ws) == 0.0  # the initial weights, before the first update
    step = train.bp_step(ws, x, y, 0.1)
    assert max_diff(seen[1][1], step.weights) < 1e-15
    assert [s[2] for s in seen] == pytest.approx(list(hist.train_loss), abs=0)
    # a step far too large for the curvature: the loss grows until it passes diverge_above
    big = train.train("bp", ws, batching.full_batch(x, y), 500, 50.0, diverge_above=1e6)
    assert big.diverged and big.n_iter < 500 and not big.train_loss[-1] <= 1e6
    assert np.all(big.train_loss[:-1] <= 1e6)
    assert not hist.diverged


def test_history_from_stored_curves():
    h = train.History.from_curves("bp", [1.0, 0.4], [0.1, 0.2], lr=1e-3, seconds=2.0, status="loaded")
    assert h.n_iter == 2 and h.finite and h.weights is None and h.status == "loaded" and h.escape() == 1
    with pytest.raises(ValueError, match="one length"):
        train.History.from_curves("bp", [1.0, 0.4], [0.1], lr=1e-3)


def test_adam_and_exact_inference_are_adam_on_the_gradient_of_the_equilibrated_energy():
    """PC with exact inference and Adam: torch.optim.Adam stepping on autograd's grad F* (Eq. 5)."""
    ws = net([3, 4, 4, 2], std=0.5, seed=4)
    x, y = batch(3, 2, 16)
    hist = train.train("pc", ws, batching.full_batch(x, y), 4, 0.05, inference="exact", optimizer="adam")
    ref = [w.clone().requires_grad_(True) for w in ws]
    opt = torch.optim.Adam(ref, lr=0.05)
    for i in range(4):
        opt.zero_grad()
        f = equilibrated_ref(ref, x, y)
        assert hist.train_loss[i] == pytest.approx(float(objective_ref("paper", [r.detach() for r in ref], x, y)), abs=1e-14)
        f.backward()
        opt.step()
    assert max_diff(hist.weights, [r.detach() for r in ref]) < 1e-12
    with pytest.raises(ValueError, match="exact"):
        train.train("pc", ws, batching.full_batch(x, y), 1, 0.05, inference="exact", activation="tanh")
    with pytest.raises(ValueError, match="checkpoints"):
        train.train("bp", ws, batching.full_batch(x, y), 1, 0.05, optimizer="adam", checkpoint=lambda state: True)
