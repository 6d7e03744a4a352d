"""Sparse teacher forcing, the training loop, stored runs and the torch -> numpy conversion."""

import numpy as np
import pytest
import torch

from plrnn import torchrnn, training
from plrnn.models import ALRNN
from reprokit.runcache import RunStore


def float64_alrnn(M=5, N=2, P=3, seeds=(0,)):
    model = torchrnn.ALRNNEnsemble(M, N, P, seeds=list(seeds), dtype=torch.float64)
    rng = np.random.default_rng(3)
    arrays = model.arrays()
    arrays["W"] = 0.3 * rng.standard_normal(arrays["W"].shape)
    arrays["h"] = 0.2 * rng.standard_normal(arrays["h"].shape)
    arrays["L"] = rng.standard_normal(arrays["L"].shape)
    model.load_arrays(arrays)
    return model


def model_data(model, n_traj=3, T=40, seed=0):
    """Trajectories of member 0, observed units only, started at (x0, L x0)."""
    np_model = model.to_numpy(0)
    x0 = np.random.default_rng(seed).standard_normal((n_traj, model.N))
    z = np.stack([np_model.iterate(model.embed(s), T - 1) for s in x0])  # (n_traj, T, M)
    return z[..., :model.N]


@pytest.mark.parametrize("tau", [1, 7])
def test_exact_model_gives_zero_loss(tau):
    model = float64_alrnn()
    data = model_data(model)
    x = torch.as_tensor(data[:, :21])[None]  # (R=1, B, T + 1, N)
    loss = training.teacher_forced_loss(model, x, tau)
    assert float(loss.detach()[0]) <= 1e-24


def test_no_gradient_through_forced_units():
    # with tau = 1 and all units observed, the loss is a sum of one-step losses from the data:
    # any gradient path through a forced unit would add terms
    model = torchrnn.ALRNNEnsemble(4, 4, 2, seeds=[1], dtype=torch.float64)
    x = torch.as_tensor(np.random.default_rng(0).standard_normal((1, 6, 9, 4)))
    loss = training.teacher_forced_loss(model, x, 1).sum()
    g_tf = torch.autograd.grad(loss, [model.A, model.W, model.h])
    one_step = ((model.step(x[:, :, :-1].reshape(1, -1, 4)) - x[:, :, 1:].reshape(1, -1, 4)) ** 2).mean()
    g_ref = torch.autograd.grad(one_step, [model.A, model.W, model.h])
    for a, b in zip(g_tf, g_ref):
        torch.testing.assert_close(a, b, atol=1e-14, rtol=1e-12)
    # without forcing in between (tau > T) the same loss has extra BPTT terms: the check can fail
    loss_free = training.teacher_forced_loss(model, x, 100).sum()
    g_free = torch.autograd.grad(loss_free, [model.W])[0]
    assert (g_free - g_ref[1]).abs().max() > 1e-6


def test_conversion_same_step_and_jacobian():
    for model in (float64_alrnn(), torchrnn.ShPLRNNEnsemble(3, 2, 7, seeds=[4, 5], dtype=torch.float64)):
        z = torch.as_tensor(np.random.default_rng(2).standard_normal((model.R, 11, model.M)))
        out = model.step(z).detach()
        for r in range(model.R):
            m = model.to_numpy(r)
            np.testing.assert_allclose(m.step(z[r].numpy()), out[r].numpy(), atol=1e-13)
            pats = model.pattern(z)[r]
            J_t = model.region_jacobians(r, pats).detach().numpy()
            np.testing.assert_allclose(m.jacobian(z[r].numpy()), J_t, atol=1e-13)
            # and the autograd Jacobian of the torch step at one state
            zr = z[r, 0]
            auto = torch.autograd.functional.jacobian(lambda v: model.step(
                v.expand(model.R, 1, model.M))[r, 0], zr)
            np.testing.assert_allclose(auto.numpy(), J_t[0], atol=1e-12)
    assert isinstance(float64_alrnn().to_numpy(0), ALRNN)


def test_members_are_independent_of_the_ensemble():
    data = np.random.default_rng(0).standard_normal((2, 60, 2))
    cfg = training.TrainConfig(steps=5, batch=4, seq_len=10, tau=3, lr=1e-2, noise=0.1)
    a = torchrnn.ShPLRNNEnsemble(2, 2, 5, seeds=[3], dtype=torch.float64)
    b = torchrnn.ShPLRNNEnsemble(2, 2, 5, seeds=[7, 3], dtype=torch.float64)
    training.train(a, data, cfg)
    training.train(b, data, cfg)
    for k, v in a.member_parameters(0).items():
        np.testing.assert_allclose(b.member_parameters(1)[k], v, atol=1e-12)
    assert not np.allclose(b.member_parameters(0)["W1"], a.member_parameters(0)["W1"])


def test_resume_equals_uninterrupted_and_store_loads(tmp_path):
    data = np.random.default_rng(1).standard_normal((80, 3))
    cfg = training.TrainConfig(steps=8, batch=3, seq_len=12, tau=4, lr=5e-3, lr_end=1e-3, reg_lambda=[0.0, 1.0],
                               reg_fraction=0.5, clip=1.0)
    full = torchrnn.ALRNNEnsemble(4, 3, 2, seeds=[0, 0], dtype=torch.float64)
    h_full = training.train(full, data, cfg)
    saved = {}
    part = torchrnn.ALRNNEnsemble(4, 3, 2, seeds=[0, 0], dtype=torch.float64)

    def ckpt(make_state, force=False):
        if not saved:
            s = make_state()
            if s["iteration"] == 4:
                saved.update(s)

    training.train(part, data, cfg, checkpoint=ckpt)
    resumed = torchrnn.ALRNNEnsemble(4, 3, 2, seeds=[0, 0], dtype=torch.float64)
    h_res = training.train(resumed, data, cfg, resume=saved)
    for k, v in full.arrays().items():
        np.testing.assert_allclose(resumed.arrays()[k], v, atol=1e-14)
    np.testing.assert_allclose(h_res.loss, h_full.loss)
    store = RunStore(tmp_path, code=("plrnn.training",))
    m1 = torchrnn.ALRNNEnsemble(4, 3, 2, seeds=[0, 0], dtype=torch.float64)
    _, status1 = training.train_stored(store, "t", m1, data, cfg, data_key="random")
    m2 = torchrnn.ALRNNEnsemble(4, 3, 2, seeds=[0, 0], dtype=torch.float64)
    h2, status2 = training.train_stored(store, "t", m2, data, cfg, data_key="random")
    assert (status1, status2) == ("computed", "loaded")
    np.testing.assert_allclose(m2.arrays()["W"], full.arrays()["W"], atol=1e-14)
    np.testing.assert_allclose(h2.loss, h_full.loss)


def test_windows_cover_every_start():
    data = [np.arange(6.0)[:, None], 10 + np.arange(4.0)[:, None]]
    w = training.Windows(data, 2)
    assert len(w) == 4 + 2
    x = w.sample(200, torch.Generator().manual_seed(0), torch.float64)
    assert x.shape == (200, 3, 1)
    np.testing.assert_array_equal(np.diff(x[..., 0].numpy(), axis=1), 1.0)  # consecutive samples of one series
    assert set(np.unique(x[:, 0, 0].numpy())) == {0.0, 1.0, 2.0, 3.0, 10.0, 11.0}


def test_bad_inputs():
    with pytest.raises(ValueError, match="steps"):
        training.TrainConfig(steps=0, batch=1, seq_len=5, tau=2, lr=1e-3)
    with pytest.raises(ValueError, match="reg_lambda"):
        training.TrainConfig(steps=1, batch=1, seq_len=5, tau=2, lr=1e-3, reg_lambda=-1.0)
    with pytest.raises(ValueError, match="one per member"):
        training.TrainConfig(steps=1, batch=1, seq_len=5, tau=2, lr=1e-3, reg_lambda=[0.1, 0.2]).lambdas(3)
    with pytest.raises(ValueError, match="longer"):
        training.Windows(np.zeros((5, 2)), 10)
    with pytest.raises(ValueError, match="N must be <= M"):
        torchrnn.ALRNNEnsemble(2, 3, 1)
    with pytest.raises(ValueError, match="P"):
        torchrnn.ALRNNEnsemble(4, 2, 5)
    with pytest.raises(ValueError, match="seed"):
        torchrnn.ShPLRNNEnsemble(2, 2, 4, seeds=[-1])
    with pytest.raises(ValueError, match="member index"):
        torchrnn.ShPLRNNEnsemble(2, 2, 4, seeds=[0]).to_numpy(1)
    with pytest.raises(ValueError, match="do not match"):
        training.train(torchrnn.ShPLRNNEnsemble(3, 3, 4), np.zeros((30, 2)),
                       training.TrainConfig(steps=1, batch=1, seq_len=5, tau=2, lr=1e-3))


def test_per_member_weight_scale():
    ens = torchrnn.ALRNNEnsemble(4, 2, 2, seeds=[0, 0], w_std=[0.01, 0.5], dtype=torch.float64)
    one = torchrnn.ALRNNEnsemble(4, 2, 2, seeds=[0], dtype=torch.float64)
    np.testing.assert_allclose(ens.member_parameters(0)["W"], one.member_parameters(0)["W"], atol=0)
    np.testing.assert_allclose(ens.member_parameters(1)["W"], 50 * one.member_parameters(0)["W"], rtol=1e-14)
    np.testing.assert_allclose(ens.member_parameters(1)["A"], one.member_parameters(0)["A"], atol=0)
    with pytest.raises(ValueError, match="w_std"):
        torchrnn.ALRNNEnsemble(4, 2, 2, seeds=[0, 1], w_std=[0.1, -1.0])


def test_heldout_loss_is_the_training_objective():
    model = float64_alrnn(M=3, N=3, P=2, seeds=(0, 1))  # all units observed: every window starts exactly
    data = model_data(model, n_traj=2, T=30)
    loss = training.heldout_loss(model, data, 10, 3, n_windows=50)
    assert loss.shape == (2,)
    assert loss[0] <= 1e-24 < loss[1]  # member 0 generated the data
    x = training.Windows(data, 10).sample(50, torch.Generator().manual_seed(0), torch.float64)
    ref = training.teacher_forced_loss(model, x.expand(2, *x.shape), 3).detach().numpy()
    np.testing.assert_allclose(loss, ref, rtol=1e-12)
