"""Tests of pcsaddles.train: BP and PC steps under each normalisation convention, the training
loop, escape detection, statistics over seeds and the vectorised landscapes.

Expectations are derived independently of the module: objectives written out here and
differentiated with torch.autograd (the paper's 1/(2N) loss, ``torch.nn.functional.mse_loss`` for
``nn.MSELoss``, the batch *sum* 1/2 sum ||r||^2), Theorem 1 written with an explicit inverse for
the equilibrated energy, closed-form chain losses, hand-made loss curves, and plain loops over
grid points for the landscapes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pcsaddles import data, layered, pc, train
from reference import TORCH_ACT

F64 = torch.float64


# ------------------------------------------------------------------------------------------------
# independent references


def net(widths, std=0.5, seed=0, dtype=F64):
    gen = torch.Generator().manual_seed(seed)
    return [(std * torch.randn(o, i, generator=gen, dtype=F64)).to(dtype) for i, o in zip(widths[:-1], widths[1:])]


def batch(d_x, d_y, n, seed=1, dtype=F64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d_x, generator=gen, dtype=F64).to(dtype), torch.randn(n, d_y, generator=gen, dtype=F64).to(dtype)


def predict(ws, x, activation="linear"):
    z = x
    for i, w in enumerate(ws):
        z = z @ w.T
        if i < len(ws) - 1:
            z = TORCH_ACT[activation](z)
    return z


def objective_ref(kind, ws, x, y, activation="linear"):
    """The objectives of SPEC 1.3, written out independently of the package."""
    r = y - predict(ws, x, activation)
    if kind == "paper":  # Eq. 1: 1/(2N) sum_i ||r_i||^2
        return 0.5 * (r**2).sum(dim=1).mean()
    if kind == "mse":  # nn.MSELoss: mean over the N d_y entries, no 1/2
        return torch.nn.functional.mse_loss(predict(ws, x, activation), y)
    if kind == "half_sum":  # 1/2 sum over the batch (the authors' PC normalisation)
        return 0.5 * (r**2).sum()
    raise ValueError(kind)


def autograd(fn, ws):
    leaves = [w.detach().clone().requires_grad_(True) for w in ws]
    return list(torch.autograd.grad(fn(leaves), leaves))


def equilibrated_ref(ws, x, y):
    """Theorem 1 with an explicit inverse: 1/(2N) sum_i r_i^T S^{-1} r_i, S = I + sum_{l>=2} W_{L:l} W_{L:l}^T."""
    d_y = ws[-1].shape[0]
    s = torch.eye(d_y, dtype=ws[0].dtype)
    for l in range(1, len(ws)):
        prod = torch.eye(d_y, dtype=ws[0].dtype)
        for w in reversed(ws[l:]):
            prod = prod @ w
        s = s + prod @ prod.T
    e2e = ws[0]
    for w in ws[1:]:
        e2e = w @ e2e
    r = y - x @ e2e.T
    return 0.5 * torch.einsum("ni,ij,nj->n", r, torch.linalg.inv(s), r).mean()


def max_diff(a, b):
    return max(float((u - v).abs().max()) for u, v in zip(a, b))


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
    factor = train.matched_lr_factor(n, d_y)
    assert factor == 96.0  # N d_y / 2 for the 3-D toy network (SPEC 1.3)
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


def test_grad_scale_table():
    assert train.grad_scale("bp", "paper", 64, 10) == 1.0
    assert train.grad_scale("pc", "paper", 64, 10) == 1.0
    assert train.grad_scale("bp", "authors", 64, 10) == pytest.approx(0.2)
    assert train.grad_scale("pc", "authors", 64, 10) == 64.0
    assert train.grad_scale("pc", "authors", 64, 10) / train.grad_scale("bp", "authors", 64, 10) == pytest.approx(
        train.matched_lr_factor(64, 10))  # x320 (SPEC 1.3)
    with pytest.raises(ValueError, match="convention"):
        train.grad_scale("bp", "torch", 64, 10)
    with pytest.raises(ValueError, match="rule"):
        train.grad_scale("sgd", "paper", 64, 10)


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
    """1-hidden-unit chain: z* = (w1 x + w2 y) / (1 + w2^2) (SPEC 1.8) after 300 Euler steps."""
    ws = [torch.tensor([[0.7]], dtype=F64), torch.tensor([[-1.3]], dtype=F64)]
    toy = data.toy_gaussian(64, 1, seed=4)
    step = train.pc_step(ws, toy.x, toy.y, 0.4, n_steps=300)
    w1, w2 = 0.7, -1.3
    z_star = (w1 * toy.x + w2 * toy.y) / (1 + w2**2)
    assert float((step.activities[0] - z_star).abs().max()) < 1e-10


def test_reported_loss_conventions():
    out, y = batch(4, 4, 10)
    assert float(train.reported_loss(out, y, "mse")) == pytest.approx(float(torch.nn.functional.mse_loss(out, y)), abs=1e-15)
    assert float(train.reported_loss(out, y, "paper")) == pytest.approx(float(0.5 * ((y - out) ** 2).sum(1).mean()), abs=1e-15)
    with pytest.raises(ValueError, match="report"):
        train.reported_loss(out, y, "sum")


# ------------------------------------------------------------------------------------------------
# the training loop


def test_train_equals_repeated_steps_and_records_before_the_update():
    ws = net([3, 4, 4, 3], std=0.3, seed=1)
    toy = data.toy_gaussian(64 * 6, 3, seed=2)
    xt, yt = torch.ones(1, 3, dtype=F64), -torch.ones(1, 3, dtype=F64)
    for rule in ("bp", "pc"):
        hist = train.train(rule, ws, train.fresh_batches(toy, 64), 6, 2e-3, convention="authors", report="mse",
                           n_steps=30, test=(xt, yt), test_every=2, record_trajectory=True)
        cur = ws
        for i, (x, y) in enumerate(train.fresh_batches(toy, 64)):
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
        hist = train.train(rule, ws, train.fresh_batches(toy, 64), 3, 0.1, activation="tanh", n_steps=5)
        assert all(w.dtype == torch.float32 for w in hist.weights)
        assert hist.train_loss.dtype == np.float32 and hist.n_iter == 3
    assert max_diff(ws, before) == 0.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_train_on_cuda_matches_cpu():
    ws = net([3, 4, 3], seed=0)
    toy = data.toy_gaussian(64 * 4, 3, seed=0)
    cpu = train.train("pc", ws, train.fresh_batches(toy, 64), 4, 0.1, n_steps=20)
    gpu = train.train("pc", [w.cuda() for w in ws], train.fresh_batches(toy.to(device="cuda"), 64), 4, 0.1, n_steps=20)
    assert np.allclose(cpu.train_loss, gpu.train_loss, rtol=1e-10, atol=0)


def test_stopping_rules():
    ws = [torch.tensor([[0.05]], dtype=F64), torch.tensor([[0.05]], dtype=F64)]
    toy = data.toy_gaussian(64 * 50, 1, seed=0)
    xt, yt = torch.ones(1, 1, dtype=F64), -torch.ones(1, 1, dtype=F64)
    hist = train.train("pc", ws, train.fresh_batches(toy, 64), 50, 0.4, n_steps=20, test=(xt, yt),
                       stop=train.stop_when_test_below(1e-3))
    assert hist.stopped_early and hist.test_loss[-1] < 1e-3 and np.all(hist.test_loss[:-1] >= 1e-3)
    assert hist.n_iter == hist.test_iter[-1] < 50

    rule = train.stop_on_plateau(epoch_length=4, tol=0.1)
    losses = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.45, 0.45, 0.45, 0.45])
    fired = [rule(train.Progress(i, losses[: i + 1], torch.empty(0))) for i in range(12)]
    # epoch means 1.0, 0.5, 0.45: first decrease 0.5 (go on), second 0.05 < 0.1 (stop at the end of epoch 3)
    assert fired == [False] * 11 + [True]


def test_training_input_errors():
    ws = net([2, 3, 2])
    toy = data.toy_gaussian(64 * 2, 2, seed=0)
    with pytest.raises(ValueError, match="ran out"):
        train.train("bp", ws, train.fresh_batches(toy, 64), 3, 0.1)
    with pytest.raises(ValueError, match="rule"):
        train.train("sgd", ws, train.fresh_batches(toy, 64), 1, 0.1)
    with pytest.raises(ValueError, match="lr"):
        train.train("bp", ws, train.fresh_batches(toy, 64), 1, -0.1)


def test_batches_helpers():
    toy = data.toy_gaussian(64 * 3 + 5, 2, seed=0)
    for bad in (0, 2.5):
        with pytest.raises(ValueError, match="batch_size"):
            train.fresh_batches(toy, bad)  # validated when called, not at the first batch
        with pytest.raises(ValueError, match="batch_size"):
            train.epoch_batches(toy, bad)
    fresh = list(train.fresh_batches(toy, 64))
    assert len(fresh) == 3 and torch.equal(torch.cat([b[0] for b in fresh]), toy.x[:192])
    ds = data.toy_gaussian(100, 2, seed=1)
    stream_a, stream_b = train.epoch_batches(ds, 32, seed=3), train.epoch_batches(ds, 32, seed=3)
    first = [next(stream_a) for _ in range(7)]  # 3 batches per epoch: crosses two epoch boundaries
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, (next(stream_b) for _ in range(7))))
    epoch0 = torch.cat([b[0] for b in first[:3]])
    assert len({tuple(r.tolist()) for r in epoch0}) == 96  # no repeats within an epoch


# ------------------------------------------------------------------------------------------------
# escape times and statistics


def test_escape_iteration_on_synthetic_curves():
    curve = [1.0] * 10 + [0.7, 0.51, 0.49, 0.2]
    assert train.escape_iteration(curve) == 12
    assert train.escape_iteration(curve, fraction=0.75) == 10
    assert train.escape_iteration(curve, reference=2.0) == 10  # below 1.0 first at index 10
    assert train.escape_iteration([1.0, 0.9, 0.8]) is None
    assert train.escape_iteration(np.array([0.5, 0.2])) == 1
    with pytest.raises(ValueError, match="fraction"):
        train.escape_iteration(curve, fraction=1.5)


def test_seed_statistics_truncate_to_the_shortest_run():
    mean, std = train.seed_statistics([[1.0, 2.0, 3.0], [3.0, 4.0], [2.0, 0.0, 9.0, 9.0]])
    assert np.allclose(mean, [2.0, 2.0]) and np.allclose(std, [np.sqrt(2 / 3), np.sqrt(8 / 3)])


# ------------------------------------------------------------------------------------------------
# landscapes


def test_chain_landscapes_equal_pointwise_evaluation():
    toy = data.toy_gaussian(64, 1, seed=3)
    x, y = toy.x, toy.y
    center = [torch.zeros(1, 1, dtype=F64), torch.zeros(1, 1, dtype=F64)]
    coords = torch.linspace(-1, 1, 7, dtype=F64)
    dirs = train.axis_directions(center)
    loss = train.landscape(train.objective("loss", x, y), center, dirs, coords)
    energy = train.landscape(train.objective("energy", x, y, n_steps=20), center, dirs, coords)
    fstar = train.landscape(train.objective("equilibrated", x, y), center, dirs, coords)
    assert loss.shape == energy.shape == fstar.shape == (7, 7)
    for i, j in [(0, 0), (1, 5), (3, 3), (6, 2)]:
        w1, w2 = float(coords[i]), float(coords[j])
        closed = 0.5 * float(((y - w2 * w1 * x) ** 2).mean())  # chain loss in closed form
        assert float(loss[i, j]) == pytest.approx(closed, abs=1e-14)
        assert float(fstar[i, j]) == pytest.approx(closed / (1 + w2**2), abs=1e-14)  # F* = L / s
        # energy after 20 Euler steps, a plain loop written from Eq. 3 (dt 0.1, feed-forward init)
        z = w1 * x
        for _ in range(20):
            z = z - 0.1 * ((z - w1 * x) - w2 * (y - w2 * z))
        e_ref = 0.5 * float(((z - w1 * x) ** 2 + (y - w2 * z) ** 2).mean())
        assert float(energy[i, j]) == pytest.approx(e_ref, abs=1e-14)


def test_volume_and_projection_landscapes_equal_pointwise_evaluation():
    toy = data.toy_gaussian(32, 1, seed=0)
    center = [torch.zeros(1, 1, dtype=F64)] * 3
    coords = [torch.linspace(-2, 2, 5, dtype=F64), torch.linspace(-1, 1, 4, dtype=F64), torch.linspace(0, 1, 3, dtype=F64)]
    vol = train.landscape(train.objective("energy", toy.x, toy.y, n_steps=7), center, train.axis_directions(center),
                          coords, chunk_size=11)
    assert vol.shape == (5, 4, 3)
    for idx in [(0, 0, 0), (4, 3, 2), (2, 1, 1)]:
        ws = [coords[k][idx[k]].reshape(1, 1) for k in range(3)]
        assert float(vol[idx]) == pytest.approx(float(pc.unrolled_energy(ws, toy.x, toy.y, 7)), abs=1e-14)
    # a wide network along two arbitrary directions around a non-zero centre
    x, y = batch(3, 2, 16)
    theta = net([3, 4, 2], seed=1)
    v1, v2 = net([3, 4, 2], seed=2), net([3, 4, 2], seed=3)
    ab = torch.linspace(-0.5, 0.5, 3, dtype=F64)
    for name, ref in (("loss", lambda w: objective_ref("mse", w, x, y)), ("equilibrated", lambda w: equilibrated_ref(w, x, y))):
        surf = train.landscape(train.objective(name, x, y, report="mse"), theta, [v1, v2], ab)
        for i, j in [(0, 2), (1, 1), (2, 0)]:
            ws = [t + ab[i] * a + ab[j] * b for t, a, b in zip(theta, v1, v2)]
            assert float(surf[i, j]) == pytest.approx(float(ref(ws)), abs=1e-13)


def test_extreme_directions_of_a_known_matrix():
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(0), dtype=F64))
    h = q @ torch.diag(torch.tensor([-3.0, -1, 0, 0.5, 1, 2], dtype=F64)) @ q.T
    vmin, vmax, lmin, lmax = train.extreme_directions(h, [(2, 1), (1, 2), (2, 1)])
    flat = [torch.cat([w.reshape(-1) for w in v]) for v in (vmin, vmax)]
    assert lmin == pytest.approx(-3.0, abs=1e-12) and lmax == pytest.approx(2.0, abs=1e-12)
    assert float((h @ flat[0] + 3.0 * flat[0]).abs().max()) < 1e-12 and float((h @ flat[1] - 2.0 * flat[1]).abs().max()) < 1e-12
    assert [tuple(w.shape) for w in vmin] == [(2, 1), (1, 2), (2, 1)]


def test_landscape_input_errors():
    center = net([2, 3, 1])
    with pytest.raises(ValueError, match="shapes"):
        train.landscape(lambda w: w[0].sum(), center, [net([2, 4, 1])], torch.zeros(2))
    with pytest.raises(ValueError, match="one coordinate vector per direction"):
        train.landscape(lambda w: w[0].sum(), center, [center, center], [torch.zeros(2)])
    with pytest.raises(ValueError, match="linear"):
        train.objective("equilibrated", *batch(2, 1, 4), activation="tanh")


def test_escape_network_initialisations():
    ws = train.escape_network(784, "tanh", width=200, depth=4, std=5e-3, seed=3)
    assert [tuple(w.shape) for w in ws] == [(200, 784), (200, 200), (200, 200), (200, 200), (10, 200)]
    assert all(w.dtype == torch.float32 for w in ws)
    for w in ws:
        assert abs(w.std().item() / 5e-3 - 1) < 0.05
    other = train.escape_network(784, "tanh", width=200, depth=4, std=5e-3, penultimate="default", seed=3)
    bound = 1 / 200 ** 0.5  # U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for W_{L-1}
    assert other[-2].abs().max().item() <= bound
    assert abs(other[-2].std().item() - bound / 3 ** 0.5) < 0.05 * bound
    for a, b in zip(ws[:-2] + ws[-1:], other[:-2] + other[-1:]):
        assert torch.equal(a, b)  # only W_{L-1} differs
    net = train.escape_network(3072, "relu", conv=True, conv_bias="zero")
    assert isinstance(net, layered.Net) and net.in_dim == 3072 and net.out_dim == 10
    with pytest.raises(ValueError, match="3072"):
        train.escape_network(784, "relu", conv=True)
    with pytest.raises(ValueError, match="penultimate"):
        train.escape_network(784, "relu", penultimate="kaiming")


class _Interrupt(Exception):
    pass


@pytest.mark.parametrize("rule", ["bp", "pc"])
def test_a_run_interrupted_after_a_checkpoint_resumes_to_the_uninterrupted_result(rule):
    ws = train.escape_network(5, "tanh", width=4, depth=2, std=0.3, seed=0, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    ds = data.Dataset(torch.randn(40, 5, generator=gen, dtype=torch.float64),
                      torch.randn(40, 10, generator=gen, dtype=torch.float64), None,
                      dict(name="toy", source="randn", n_samples=40, split="train", note=""))

    def fit(**kw):
        return train.train(rule, ws, train.epoch_batches(ds, 8, seed=1), 23, 0.05, activation="tanh",
                           test=(ds.x, ds.y), test_every=5, stop=train.stop_on_plateau(5, -1.0), **kw)

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
    assert all(torch.equal(a, b) for a, b in zip(ws, train.escape_network(5, "tanh", width=4, depth=2, std=0.3,
                                                                         seed=0, dtype=torch.float64)))
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
