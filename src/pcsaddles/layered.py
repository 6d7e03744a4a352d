"""Predictive coding and backprop for networks built from arbitrary differentiable blocks.

The fully connected networks of the rest of the package are lists of weight matrices, with
inference and gradients written out by hand (:mod:`pcsaddles.pc`, :func:`pcsaddles.train.loss_grads`).
The paper's CIFAR-10 network (Figure 5 bottom row, Figure 12; the architecture of its Appendix A.4) has
convolutions, biases and max-pooling, so here the same PC energy is written for a chain of
blocks and differentiated with autograd:

    mu_l = block_l(z_{l-1}),   e_l = z_l - mu_l,   F = 1/(2N) sum_i sum_l ||e_{l,i}||^2,

with ``z_0 = x`` clamped to the input, ``z_L = y`` clamped to the target, and the hidden
activities ``z_1 .. z_{L-1}`` at the outputs of the blocks (for the conv net: after each
Conv -> activation -> MaxPool block and after the hidden fully connected layer). Inference is
explicit Euler on each example's energy ``F_i`` from the feed-forward pass, exactly as in
:func:`pcsaddles.pc.infer`; learning uses ``dF/dtheta`` at the final activities. A chain of
bias-free ``Linear`` blocks with an activation after every hidden block is the network of
:mod:`pcsaddles.pc`, and the tests check that both give the same numbers.

Inputs stay flat, ``x (N, d_0)``: a conv net's first block reshapes them (``nn.Unflatten``), so
the datasets of :mod:`pcsaddles.data` (CIFAR-10 is ``(N, 3072)``, channel-major) feed either kind
of network. Everything runs in the dtype and on the device of the parameters.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
from torch import nn

from ._checks import check_choice

ACTIVATIONS = {"linear": nn.Identity, "tanh": nn.Tanh, "relu": nn.ReLU}
BIAS_INITS = ("default", "zero")


class Net:
    """A chain of blocks ``[block_1, ..., block_L]`` (``torch.nn.Module``), the PC activities sitting
    at the block outputs. ``blocks[-1]`` produces the output, which PC clamps to the target.

    The parameters never require gradients outside :func:`weight_grads` and :func:`loss_grads`, so
    inference builds no graph through them. ``params`` lists them in block order.
    """

    def __init__(self, blocks: Sequence[nn.Module], in_dim: int, out_dim: int):
        if isinstance(blocks, nn.Module) or not isinstance(blocks, Sequence) or len(blocks) < 1:
            raise TypeError("blocks must be a non-empty list of torch.nn.Module, one per layer; "
                            f"received {type(blocks).__name__}")
        for i, b in enumerate(blocks, start=1):
            if not isinstance(b, nn.Module):
                raise TypeError(f"block {i} must be a torch.nn.Module; received {type(b).__name__}")
        self.blocks = nn.ModuleList(blocks)
        self.in_dim, self.out_dim = int(in_dim), int(out_dim)
        self.params = [p for p in self.blocks.parameters()]
        if not self.params:
            raise ValueError("the network has no parameters")
        dtypes = {p.dtype for p in self.params}
        devices = {p.device for p in self.params}
        if len(dtypes) != 1 or next(iter(dtypes)) not in (torch.float32, torch.float64) or len(devices) != 1:
            raise TypeError(f"all parameters must share one float32/float64 dtype and one device; received "
                            f"{sorted(map(str, dtypes))} on {sorted(map(str, devices))}")
        for p in self.params:
            p.requires_grad_(False)

    @property
    def dtype(self) -> torch.dtype:
        return self.params[0].dtype

    @property
    def device(self) -> torch.device:
        return self.params[0].device

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.params)

    def __len__(self) -> int:
        return len(self.blocks)

    def clone(self) -> Net:
        """An independent copy (parameters copied)."""
        return Net(copy.deepcopy(list(self.blocks)), self.in_dim, self.out_dim)

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> Net:
        """A copy in another dtype and/or on another device."""
        blocks = [copy.deepcopy(b).to(dtype=dtype, device=device) for b in self.blocks]
        return Net(blocks, self.in_dim, self.out_dim)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The feed-forward pass ``[z_1, ..., z_L]`` (``z_L`` the output, ``(N, out_dim)``)."""
        self._check_x(x)
        zs = [x]
        for b in self.blocks:
            zs.append(b(zs[-1]))
        return zs[1:]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)[-1]

    def _check_x(self, x, y=None):
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != self.in_dim:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a tensor of shape (N, {self.in_dim}) (flat inputs; the first block "
                             f"reshapes them); received {got}")
        if x.dtype != self.dtype or x.device != self.device:
            raise TypeError(f"x must be {self.dtype} on {self.device} like the parameters; received {x.dtype} on "
                            f"{x.device} (convert with x.to(net.dtype, net.device))")
        if y is not None:
            if not isinstance(y, torch.Tensor) or tuple(y.shape) != (x.shape[0], self.out_dim):
                got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
                raise ValueError(f"y must have shape (N, {self.out_dim}) = ({x.shape[0]}, {self.out_dim}); received {got}")
            if y.dtype != self.dtype or y.device != self.device:
                raise TypeError(f"y must be {self.dtype} on {self.device}; received {y.dtype} on {y.device}")


def _check_activities(net: Net, activities, x):
    """One hidden activity per block but the last, each shaped like that block's output."""
    if isinstance(activities, torch.Tensor) or not isinstance(activities, Sequence) or len(activities) != len(net) - 1:
        got = len(activities) if isinstance(activities, Sequence) else type(activities).__name__
        raise ValueError(f"expected a list of {len(net) - 1} hidden activities (one per block but the last); "
                         f"received {got}")
    with torch.no_grad():
        shapes = [tuple(z.shape[1:]) for z in net.forward(x[:1])[:-1]]  # one example is enough
    for i, (a, s) in enumerate(zip(activities, shapes), start=1):
        want = (x.shape[0], *s)
        if not isinstance(a, torch.Tensor) or tuple(a.shape) != want:
            got = tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__
            raise ValueError(f"activity z_{i} must have shape {want} (the output of block {i}); received {got}")
        if a.dtype != net.dtype or a.device != net.device:
            raise TypeError(f"activity z_{i} must be {net.dtype} on {net.device}; received {a.dtype} on {a.device}")


def _errors(net: Net, zs: Sequence[torch.Tensor], first: torch.Tensor | None = None) -> list[torch.Tensor]:
    """``e_l = z_l - block_l(z_{l-1})`` for ``zs = [x, z_1, ..., z_{L-1}, y]``; ``first`` is
    ``block_1(x)`` if already known (it does not depend on the activities)."""
    preds = [first if first is not None else net.blocks[0](zs[0])]
    preds += [b(z) for b, z in zip(net.blocks[1:], zs[1:-1])]
    return [z - p for z, p in zip(zs[1:], preds)]


def energy(net: Net, activities: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``F = 1/(2N) sum_i sum_l ||e_{l,i}||^2`` (Eq. 2; each error summed over all its entries)."""
    net._check_x(x, y)
    _check_activities(net, activities, x)
    errors = _errors(net, [x, *activities, y])
    return 0.5 * sum(e.pow(2).sum() for e in errors) / x.shape[0]


def activity_grads(net: Net, activities: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """Per-example ``dF_i/dz_l = e_l - J_{l+1}^T e_{l+1}`` for the hidden activities (autograd
    vector-Jacobian products; ``J_{l+1}`` is the Jacobian of ``block_{l+1}`` at ``z_l``)."""
    net._check_x(x, y)
    _check_activities(net, activities, x)
    with torch.no_grad():
        first = net.blocks[0](x)
    return _activity_grads(net, activities, y, first)


def _activity_grads(net: Net, activities, y, first):
    """:func:`activity_grads` without checks, with ``first = block_1(x)`` precomputed (the loop)."""
    zs = [z.detach().requires_grad_(True) for z in activities]
    with torch.enable_grad():
        preds = [b(z) for b, z in zip(net.blocks[1:], zs)]
        # e_2 .. e_L; d/dz_l of 1/2 ||e_{l+1}||^2 = -J^T e_{l+1}: backpropagate -e_{l+1} through the predictions
        errors = [t.detach() - p.detach() for t, p in zip([*activities[1:], y], preds)]
        back = torch.autograd.grad(preds, zs, grad_outputs=[-e for e in errors])
    own = [activities[0] - first, *errors[:-1]]  # e_1 .. e_{L-1}
    return [o + b for o, b in zip(own, back)]


def _euler(net: Net, y, zs, first, n_steps: int, dt: float) -> list[torch.Tensor]:
    """The unchecked Euler loop from activities ``zs`` (not modified)."""
    for _ in range(n_steps if zs else 0):  # a single block has no hidden activities
        grads = _activity_grads(net, zs, y, first)
        with torch.no_grad():
            zs = [z - dt * g for z, g in zip(zs, grads)]
    return zs


def infer(net: Net, x: torch.Tensor, y: torch.Tensor, n_steps: int = 50, dt: float = 0.1,
          init: Sequence[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """``n_steps`` explicit Euler steps ``z <- z - dt dF_i/dz`` on the hidden activities from the
    feed-forward pass (or ``init``, which is not modified). Returns the hidden activities (detached)."""
    net._check_x(x, y)
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative int; received {n_steps!r}")
    if not dt > 0:
        raise ValueError(f"dt must be positive; received {dt}")
    with torch.no_grad():
        if init is None:
            zs = net.forward(x)[:-1]
        else:
            _check_activities(net, init, x)
            zs = [z.detach() for z in init]
        first = net.blocks[0](x)  # constant during inference
    return _euler(net, y, zs, first, n_steps, dt)


def _weight_grads(net: Net, zs) -> list[torch.Tensor]:
    """:func:`weight_grads` without checks, ``zs = [x, z_1, ..., z_{L-1}, y]`` (detached)."""
    for p in net.params:
        p.requires_grad_(True)
    try:
        with torch.enable_grad():
            f = 0.5 * sum(e.pow(2).sum() for e in _errors(net, zs)) / zs[0].shape[0]
            return list(torch.autograd.grad(f, net.params))
    finally:
        for p in net.params:
            p.requires_grad_(False)


def weight_grads(net: Net, activities: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """``dF/dtheta`` (Eq. 4, paper normalisation ``1/(2N)``) at the given activities, in the order
    of ``net.params``."""
    net._check_x(x, y)
    _check_activities(net, activities, x)
    return _weight_grads(net, [x, *[a.detach() for a in activities], y])


def loss_grads(net: Net, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Backpropagation: the output ``(N, out_dim)`` and ``dL/dtheta`` of the paper's loss
    ``L = 1/(2N) sum_i ||y_i - f(x_i)||^2`` (Eq. 1), in the order of ``net.params``."""
    net._check_x(x, y)
    for p in net.params:
        p.requires_grad_(True)
    try:
        with torch.enable_grad():
            out = net(x)
            loss = 0.5 * (out - y).pow(2).sum() / x.shape[0]
            return out.detach(), list(torch.autograd.grad(loss, net.params))
    finally:
        for p in net.params:
            p.requires_grad_(False)


def pc_grads(net: Net, x: torch.Tensor, y: torch.Tensor, n_steps: int = 50, dt: float = 0.1):
    """Feed-forward output, ``dF/dtheta`` after ``n_steps`` Euler steps, and the activities."""
    net._check_x(x, y)
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative int; received {n_steps!r}")
    with torch.no_grad():
        layers = net.forward(x)  # layers[0] = block_1(x), constant during inference
    z = _euler(net, y, layers[:-1], layers[0], n_steps, dt)
    return layers[-1], _weight_grads(net, [x, *z, y]), z


# --------------------------------------------------------------------------------------------
# the paper's convolutional network


def conv_net(in_shape: Sequence[int], channels: Sequence[int] = (64, 128, 256), fc_width: int | None = None,
             n_out: int = 10, *, activation: str = "relu", std: float = 5e-3, bias: str = "default",
             penultimate: str = "gaussian", seed: int = 0, dtype: torch.dtype = torch.float32,
             device: torch.device | str | None = None) -> Net:
    """The paper's CIFAR-10 network, or a smaller one of the same shape.

    Blocks: for each ``c`` in ``channels`` a ``Conv2d(3x3, padding 1) -> activation -> MaxPool2d(2)``
    (the image side halves each time), then ``Flatten -> Linear(fc_in, fc_width, no bias) ->
    activation`` and a linear output ``Linear(fc_width, n_out, no bias)``; ``fc_width`` defaults to
    ``fc_in`` (the paper: 256 x 4 x 4 = 4096 -> 4096). With ``in_shape = (3, 32, 32)`` and the default
    channels this is the paper's network (Appendix A.4).

    Initialisation: every weight (conv kernels and linear layers) ``N(0, std^2)``. Conv biases:
    ``"default"`` keeps PyTorch's ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` as in the authors' code (so
    the network is only *near* the origin, see the book's departures page), ``"zero"`` puts it exactly at
    the origin. ``penultimate="default"`` gives the hidden linear layer PyTorch's default
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` instead (Figure 12, the other zero-rank saddle).
    All draws come from a generator seeded with ``seed``.
    """
    check_choice("activation", activation, tuple(ACTIVATIONS))
    check_choice("bias", bias, BIAS_INITS)
    check_choice("penultimate", penultimate, ("gaussian", "default"))
    in_shape = tuple(int(s) for s in in_shape)
    if len(in_shape) != 3 or min(in_shape) < 1:
        raise ValueError(f"in_shape must be (channels, height, width); received {in_shape}")
    c, h, w = in_shape
    if h % 2 ** len(channels) or w % 2 ** len(channels):
        raise ValueError(f"the image side must be divisible by 2^{len(channels)} (one max-pool per conv block); "
                         f"received {h}x{w}")
    gen = torch.Generator().manual_seed(seed)
    blocks: list[nn.Module] = []
    for i, c_out in enumerate(channels):
        conv = nn.Conv2d(c, c_out, 3, padding=1, bias=True, dtype=torch.float64)
        with torch.no_grad():
            conv.weight.copy_(std * torch.randn(conv.weight.shape, generator=gen, dtype=torch.float64))
            bound = 1.0 / math.sqrt(c * 9)
            conv.bias.copy_((2 * torch.rand(c_out, generator=gen, dtype=torch.float64) - 1) * bound
                            if bias == "default" else torch.zeros(c_out, dtype=torch.float64))
        layers = [nn.Unflatten(1, in_shape)] if i == 0 else []
        blocks.append(nn.Sequential(*layers, conv, ACTIVATIONS[activation](), nn.MaxPool2d(2)))
        c, h, w = c_out, h // 2, w // 2
    fc_in = c * h * w
    fc_width = fc_in if fc_width is None else int(fc_width)
    hidden = nn.Linear(fc_in, fc_width, bias=False, dtype=torch.float64)
    out = nn.Linear(fc_width, n_out, bias=False, dtype=torch.float64)
    with torch.no_grad():
        if penultimate == "default":
            bound = 1.0 / math.sqrt(fc_in)
            hidden.weight.copy_((2 * torch.rand(hidden.weight.shape, generator=gen, dtype=torch.float64) - 1) * bound)
        else:
            hidden.weight.copy_(std * torch.randn(hidden.weight.shape, generator=gen, dtype=torch.float64))
        out.weight.copy_(std * torch.randn(out.weight.shape, generator=gen, dtype=torch.float64))
    blocks.append(nn.Sequential(nn.Flatten(), hidden, ACTIVATIONS[activation]()))
    blocks.append(out)
    blocks = [b.to(dtype=dtype, device=device) for b in blocks]
    return Net(blocks, in_dim=in_shape[0] * in_shape[1] * in_shape[2], out_dim=n_out)


def linear_net(weights: Sequence[torch.Tensor], activation: str = "linear") -> Net:
    """The fully connected network ``[W1, ..., WL]`` of :mod:`pcsaddles.pc` as a :class:`Net`
    (bias-free ``Linear`` blocks, the activation after every hidden block)."""
    check_choice("activation", activation, tuple(ACTIVATIONS))
    blocks: list[nn.Module] = []
    for i, w in enumerate(weights):
        lin = nn.Linear(w.shape[1], w.shape[0], bias=False, dtype=w.dtype, device=w.device)
        with torch.no_grad():
            lin.weight.copy_(w)
        last = i == len(weights) - 1
        blocks.append(lin if last else nn.Sequential(lin, ACTIVATIONS[activation]()))
    return Net(blocks, in_dim=weights[0].shape[1], out_dim=weights[-1].shape[0])
