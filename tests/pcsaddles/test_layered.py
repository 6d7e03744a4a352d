"""Block networks (pcsaddles.layered): PC and BP by autograd, checked against independent formulations.

* a chain of bias-free Linear blocks is the network of pcsaddles.pc / train.loss_grads, whose
  gradients are written out by hand: both must agree to rounding;
* a linear conv net (no pooling) is a linear map per block; with its dense matrices (built column
  by column from unit inputs) the exact PC equilibrium is a linear solve (pc.infer method="exact"),
  which long Euler inference must reach;
* with max-pooling and ReLU the activity and weight gradients are checked by central finite
  differences of the energy;
* the paper's CIFAR-10 architecture: shapes and parameter count from the paper's layer list (Appendix A.4).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pcsaddles import layered, pc, train

F64 = torch.float64


def fc_problem(seed=0, widths=(5, 7, 6, 4), n=9):
    gen = torch.Generator().manual_seed(seed)
    ws = [0.6 * torch.randn(b, a, generator=gen, dtype=F64) for a, b in zip(widths[:-1], widths[1:])]
    x = torch.randn(n, widths[0], generator=gen, dtype=F64)
    y = torch.randn(n, widths[-1], generator=gen, dtype=F64)
    return ws, x, y


@pytest.mark.parametrize("act", ["linear", "tanh", "relu"])
def test_linear_blocks_match_the_hand_written_pc(act):
    ws, x, y = fc_problem()
    net = layered.linear_net(ws, act)
    z_ref = pc.infer(ws, x, y, act, method="euler", dt=0.1, n_steps=25)
    z = layered.infer(net, x, y, n_steps=25, dt=0.1)
    for a, b in zip(z, z_ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert abs(layered.energy(net, z, x, y).item() - pc.energy(ws, z_ref, x, y, act).item()) < 1e-12
    for a, b in zip(layered.activity_grads(net, z, x, y), pc.activity_grads(ws, z_ref, x, y, act)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    for a, b in zip(layered.weight_grads(net, z, x, y), pc.weight_grads(ws, z_ref, x, y, act)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("act", ["linear", "tanh", "relu"])
def test_backprop_matches_the_hand_written_backprop(act):
    ws, x, y = fc_problem(seed=1)
    out, grads = layered.loss_grads(layered.linear_net(ws, act), x, y)
    out_ref, grads_ref = train.loss_grads(ws, x, y, act)
    torch.testing.assert_close(out, out_ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def _linear_conv_net(seed=0):
    """Three linear blocks on 1x4x4 images: conv 1->2, conv 2->2, flatten + linear 32->3."""
    gen = torch.Generator().manual_seed(seed)
    c1 = nn.Conv2d(1, 2, 3, padding=1, bias=False, dtype=F64)
    c2 = nn.Conv2d(2, 2, 3, padding=1, bias=False, dtype=F64)
    fc = nn.Linear(32, 3, bias=False, dtype=F64)
    with torch.no_grad():
        for m in (c1, c2, fc):
            m.weight.copy_(0.4 * torch.randn(m.weight.shape, generator=gen, dtype=F64))
    blocks = [nn.Sequential(nn.Unflatten(1, (1, 4, 4)), c1, nn.Flatten()),
              nn.Sequential(nn.Unflatten(1, (2, 4, 4)), c2, nn.Flatten()), fc]
    return layered.Net(blocks, in_dim=16, out_dim=3)


def _dense(block, d_in):
    """The matrix of a linear block, column j = block(e_j)."""
    with torch.no_grad():
        return block(torch.eye(d_in, dtype=F64)).T.contiguous()


def test_linear_conv_net_reaches_the_exact_equilibrium():
    net = _linear_conv_net()
    mats = [_dense(net.blocks[0], 16), _dense(net.blocks[1], 32), _dense(net.blocks[2], 32)]
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(5, 16, generator=gen, dtype=F64)
    y = torch.randn(5, 3, generator=gen, dtype=F64)
    # the dense matrices reproduce the blocks (sanity of the construction)
    torch.testing.assert_close(net(x), x @ mats[0].T @ mats[1].T @ mats[2].T)
    exact = pc.infer(mats, x, y, method="exact")  # one linear solve
    z = layered.infer(net, x, y, n_steps=3000, dt=0.1)
    for a, b in zip(z, exact):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-9)
    # at the equilibrium the weight gradient is that of the dense network
    g = layered.weight_grads(net, z, x, y)
    g_ref = pc.weight_grads(mats, exact, x, y)
    torch.testing.assert_close(g[2], g_ref[2], rtol=0, atol=1e-9)


def _small_conv(act="relu", bias="default", seed=0):
    return layered.conv_net((2, 4, 4), channels=(3, 2), fc_width=5, n_out=3, activation=act, std=0.5, bias=bias,
                            seed=seed, dtype=F64)


def test_conv_gradients_match_finite_differences():
    net = _small_conv("tanh")
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(3, 32, generator=gen, dtype=F64)
    y = torch.randn(3, 3, generator=gen, dtype=F64)
    with torch.no_grad():
        z = [a + 0.3 * torch.randn(a.shape, generator=gen, dtype=F64) for a in net.forward(x)[:-1]]
    n, h = x.shape[0], 1e-6
    grads = layered.activity_grads(net, z, x, y)
    for l, (zl, gl) in enumerate(zip(z, grads)):
        for idx in [(0,) + (0,) * (zl.ndim - 1), (2,) + tuple(s - 1 for s in zl.shape[1:])]:
            def f(delta):
                zz = [a.clone() for a in z]
                zz[l][idx] += delta
                return n * layered.energy(net, zz, x, y).item()  # per-example energies summed
            fd = (f(h) - f(-h)) / (2 * h)
            assert abs(fd - gl[idx].item()) < 1e-6, (l, idx, fd, gl[idx].item())
    wg = layered.weight_grads(net, z, x, y)
    for p, g in zip(net.params, wg):
        idx = (0,) * p.ndim
        with torch.no_grad():
            p[idx] += h
            up = layered.energy(net, z, x, y).item()
            p[idx] -= 2 * h
            down = layered.energy(net, z, x, y).item()
            p[idx] += h
        assert abs((up - down) / (2 * h) - g[idx].item()) < 1e-6


def test_relu_maxpool_inference_decreases_the_energy():
    net = _small_conv("relu", seed=2)
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(4, 32, generator=gen, dtype=F64)
    y = torch.randn(4, 3, generator=gen, dtype=F64)
    energies = [layered.energy(net, layered.infer(net, x, y, n_steps=t, dt=0.1), x, y).item() for t in (0, 5, 20, 80)]
    assert all(b < a for a, b in zip(energies, energies[1:])), energies
    # at the feed-forward pass every error but the output's is zero: F = L there
    out = net(x)
    assert abs(energies[0] - 0.5 * (out - y).pow(2).sum().item() / 4) < 1e-12


def test_paper_cifar_architecture():
    net = layered.conv_net((3, 32, 32), activation="relu", std=5e-3, dtype=torch.float32)
    with torch.no_grad():
        shapes = [tuple(z.shape) for z in net.forward(torch.zeros(2, 3072))]
    assert shapes == [(2, 64, 16, 16), (2, 128, 8, 8), (2, 256, 4, 4), (2, 4096), (2, 10)]
    convs = [(3, 64), (64, 128), (128, 256)]
    expected = sum(9 * a * b + b for a, b in convs) + 4096 * 4096 + 4096 * 10  # kernels + biases + FC (no bias)
    assert net.n_params == expected
    kernels = [p for p in net.params if p.ndim == 4]
    biases = [p for p in net.params if p.ndim == 1]
    fcs = [p for p in net.params if p.ndim == 2]
    assert len(kernels) == 3 and len(biases) == 3 and len(fcs) == 2
    for p in kernels[1:] + fcs:
        assert abs(p.std().item() / 5e-3 - 1) < 0.02
    for (c_in, _), b in zip(convs, biases):
        bound = 1 / math.sqrt(9 * c_in)
        assert b.abs().max().item() <= bound and b.abs().max().item() > 0.5 * bound  # PyTorch's default U(+-bound)


def test_bias_and_penultimate_options():
    net = layered.conv_net((3, 32, 32), bias="zero", penultimate="default", dtype=torch.float32)
    assert all((p == 0).all() for p in net.params if p.ndim == 1)
    hidden = [p for p in net.params if p.ndim == 2][0]
    bound = 1 / 64  # 1/sqrt(4096)
    assert hidden.abs().max().item() <= bound
    assert abs(hidden.std().item() - bound / math.sqrt(3)) < 0.02 * bound  # U(-b, b) has std b/sqrt(3)


def test_training_a_block_net_equals_training_the_matrices():
    ws, x, y = fc_problem(seed=6, n=8)
    batches = [(x, y)] * 6
    for rule in ("bp", "pc"):
        ref = train.train(rule, ws, iter(batches), 6, 0.05, activation="tanh", convention="authors", n_steps=10)
        got = train.train(rule, layered.linear_net(ws, "tanh"), iter(batches), 6, 0.05, convention="authors", n_steps=10)
        assert abs(got.train_loss - ref.train_loss).max() < 1e-12
        assert abs(got.grad_norm - ref.grad_norm).max() < 1e-12
        for a, b in zip(got.weights.params, ref.weights):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_bad_input_is_reported():
    net = _small_conv()
    x, y = torch.zeros(2, 32, dtype=F64), torch.zeros(2, 3, dtype=F64)
    with pytest.raises(ValueError, match=r"x must be a tensor of shape \(N, 32\)"):
        layered.infer(net, torch.zeros(2, 31, dtype=F64), y)
    with pytest.raises(ValueError, match=r"y must have shape"):
        layered.infer(net, x, torch.zeros(2, 4, dtype=F64))
    with pytest.raises(TypeError, match="float64"):
        layered.infer(net, x.float(), y)
    with pytest.raises(ValueError, match="expected a list of 3 hidden activities"):
        layered.energy(net, [torch.zeros(2, 3, 2, 2, dtype=F64)], x, y)
    z = [a.clone() for a in net.forward(x)[:-1]]
    z[1] = torch.zeros(2, 7, dtype=F64)
    with pytest.raises(ValueError, match=r"activity z_2 must have shape \(2, 2, 1, 1\)"):
        layered.energy(net, z, x, y)
    with pytest.raises(ValueError, match="activation"):
        layered.conv_net((3, 32, 32), activation="gelu")
    with pytest.raises(ValueError, match="bias"):
        layered.conv_net((3, 32, 32), bias="kaiming")
    with pytest.raises(ValueError, match="divisible"):
        layered.conv_net((3, 30, 30))
    with pytest.raises(ValueError, match="n_steps"):
        layered.infer(net, x, y, n_steps=-1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    net = _small_conv("tanh")
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(4, 32, generator=gen, dtype=F64)
    y = torch.randn(4, 3, generator=gen, dtype=F64)
    cpu = layered.pc_grads(net, x, y, n_steps=20)[1]
    gpu_net = net.to(device="cuda")
    gpu = layered.pc_grads(gpu_net, x.cuda(), y.cuda(), n_steps=20)[1]
    for a, b in zip(cpu, gpu):
        torch.testing.assert_close(b.cpu(), a, rtol=1e-10, atol=1e-12)
