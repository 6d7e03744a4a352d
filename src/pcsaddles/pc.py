"""Predictive coding: energy, inference and weight gradients (SPEC 1.4).

Conventions as in :mod:`pcsaddles.dln`: ``weights = [W1, ..., WL]`` with ``W_l (d_l, d_{l-1})``,
``x (N, d_0)`` clamped at the input, ``y (N, d_L)`` clamped at the output, and ``activities`` the
hidden layers ``[z_1, ..., z_H]`` with ``z_l (N, d_l)``. With ``e_l = z_l - f_l(W_l z_{l-1})``
(``f_l`` the activation for hidden layers, identity for the output layer) the energy is (Eq. 2)

    F(theta, z) = 1/(2N) sum_i sum_l ||e_{l,i}||^2 .

Inference (Eq. 3) is the gradient flow of each example's energy ``F_i = 1/2 sum_l ||e_{l,i}||^2``
on the hidden activities; explicit Euler is ``z <- z - dt dF_i/dz`` (the batch's 1/N does not
scale the step). Learning (Eq. 4) uses ``dF/dW_l`` at the (approximate) equilibrium.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ._checks import check_activities, check_choice, check_data
from .activations import Activation, get_activation
from .dln import forward, rescaling
from .ode import PIDController, heun_pid

METHODS = ("euler", "exact", "heun")


@dataclass
class InferenceInfo:
    """What an inference run did. ``max_grad`` is ``max |dF_i/dz|`` at the returned activities."""

    method: str
    n_steps: int
    t: float
    max_grad: float
    converged: bool | None = None
    n_rejected: int = 0


# --------------------------------------------------------------------------------------------
# functional building blocks (differentiable; used by energy, gradients and unrolled inference)


def _errors(weights: Sequence[torch.Tensor], zs: Sequence[torch.Tensor], act: Activation):
    """Errors ``e_l`` and slopes ``eps_l = f_l'(a_l) * e_l`` for ``zs = [x, z_1, ..., z_H, y]``."""
    last = len(weights) - 1
    errors, slopes = [], []
    for i, w in enumerate(weights):
        a = zs[i] @ w.T  # (N, d_{i+1})
        if i == last or act.is_linear:
            e = zs[i + 1] - a
            errors.append(e)
            slopes.append(e)
        else:
            fa = act.f(a)
            e = zs[i + 1] - fa
            errors.append(e)
            slopes.append(e * act.fprime(a, fa))
    return errors, slopes


def _activity_grads(weights, zs, act) -> list[torch.Tensor]:
    """Per-example ``dF_i/dz_l = e_l - W_{l+1}^T eps_{l+1}`` for the hidden layers, each ``(N, d_l)``."""
    errors, slopes = _errors(weights, zs, act)
    return [errors[i] - slopes[i + 1] @ weights[i + 1] for i in range(len(weights) - 1)]


def _validated(weights, activities, x, y, activation):
    widths = check_data(weights, x, y)
    check_activities(widths, activities, x.shape[0], weights[0])
    return get_activation(activation)


def prediction_errors(weights, activities, x, y, activation: str = "linear") -> list[torch.Tensor]:
    """The prediction errors ``[e_1, ..., e_L]``, ``e_l = z_l - f_l(W_l z_{l-1})``, each ``(N, d_l)``."""
    act = _validated(weights, activities, x, y, activation)
    return _errors(weights, [x, *activities, y], act)[0]


def energy(weights, activities, x, y, activation: str = "linear") -> torch.Tensor:
    """The PC energy (Eq. 2): ``F = 1/(2N) sum_i sum_{l=1}^{L} ||z_{l,i} - f_l(W_l z_{l-1,i})||^2``.

    ``activities = [z_1, ..., z_H]`` are the hidden layers, ``z_0 = x`` and ``z_L = y`` are clamped.
    At the feed-forward activities every hidden error is zero and ``F`` equals the MSE loss.
    """
    act = _validated(weights, activities, x, y, activation)
    errors, _ = _errors(weights, [x, *activities, y], act)
    return 0.5 * sum(e.pow(2).sum() for e in errors) / x.shape[0]


def activity_grads(weights, activities, x, y, activation: str = "linear") -> list[torch.Tensor]:
    """Per-example activity gradients ``dF_i/dz_l = e_l - W_{l+1}^T (f'_{l+1} * e_{l+1})``, ``l = 1..H``.

    These are ``N`` times ``dF/dz_l`` (the batch's ``1/N`` is left out, as in the Euler update).
    """
    act = _validated(weights, activities, x, y, activation)
    return _activity_grads(weights, [x, *activities, y], act)


def weight_grads(weights, activities, x, y, activation: str = "linear") -> list[torch.Tensor]:
    """``dF/dW_l = -1/N sum_i (f_l'(a_{l,i}) * e_{l,i}) z_{l-1,i}^T`` for every layer, each ``(d_l, d_{l-1})``.

    Evaluated at the given activities (normally the inference equilibrium, where by the envelope
    theorem this is the gradient of the equilibrated energy F*). The batch normalisation is the
    paper's ``1/N``; the authors' training code uses the batch *sum* (``N`` times larger, SPEC 1.3).
    """
    act = _validated(weights, activities, x, y, activation)
    zs = [x, *activities, y]
    _, slopes = _errors(weights, zs, act)
    n = x.shape[0]
    return [-(s.T @ z) / n for s, z in zip(slopes, zs[:-1])]


# --------------------------------------------------------------------------------------------
# inference


def _max_abs(tensors: Sequence[torch.Tensor]) -> float:
    return max((float(t.abs().max()) for t in tensors if t.numel()), default=0.0)


def _euler_inplace(weights, x, y, act: Activation, z: list[torch.Tensor], dt: float, n_steps: int, tol):
    """The hot path: explicit Euler on preallocated buffers, no autograd graph.

    Per step it needs 2H matrix products (predictions of layers 2..L and the feedback through
    W_2..W_L); the first layer's prediction f(x W_1^T) does not change and is computed once.
    Everything else is written into buffers allocated once (out= forms and in-place ops) and
    rounds exactly as :func:`_euler_functional`, except in two fused operations that agree with it
    to round-off: the feedback ``e_l - eps_{l+1} W_{l+1}`` is one ``addmm`` (BLAS accumulates
    into ``e_l``) and the update ``z - dt g`` is one ``add_`` with ``alpha``.
    """
    n_layers = len(weights)
    hidden = n_layers - 1
    wts = [w.T for w in weights]  # transposed views, made once (W_l^T, (d_{l-1}, d_l))
    srcs = [x, *z]  # input of layer i: z_i (z_0 = x)
    tgts = [*z, y]  # target of layer i: z_{i+1} (z_L = y)
    nonlin = [not act.is_linear and i < hidden for i in range(n_layers)]
    pre = [torch.matmul(x, wts[0])] + [torch.empty_like(tgts[i]) for i in range(1, n_layers)]  # a_{i+1}
    pred = [act.f(pre[0]) if nonlin[0] else pre[0]] + [
        torch.empty_like(tgts[i]) if nonlin[i] else pre[i] for i in range(1, n_layers)
    ]
    errs = [torch.empty_like(t) for t in tgts]
    # slopes eps_{i+1} = f'(a_{i+1}) * e_{i+1}; the first layer's is never needed
    slopes = [None] + [torch.empty_like(tgts[i]) if nonlin[i] else errs[i] for i in range(1, n_layers)]
    # The activity gradient of layer i overwrites errs[i] in place (ascending i): errs[i] is read
    # only by slopes[i] (already formed) and, when slopes[i] is errs[i], by gradient i - 1 (done).
    grads = errs[:hidden]
    feedback = [(grads[i], slopes[i + 1], weights[i + 1]) for i in range(hidden)]
    layers = [(srcs[i], wts[i], pre[i]) for i in range(1, n_layers)]
    nonlin_layers = [(pre[i], pred[i]) for i in range(1, n_layers) if nonlin[i]]
    err_layers = [(tgts[i], pred[i], errs[i]) for i in range(n_layers)]
    slope_layers = [(pre[i], pred[i], errs[i], slopes[i]) for i in range(1, n_layers) if nonlin[i]]
    updates = list(zip(z, grads))
    if tol is not None:
        norms = torch.empty(hidden, dtype=x.dtype, device=x.device)
        norm_outs = list(zip(grads, norms.unbind()))
    f_into, slope_into = act.f_into, act.slope_into
    matmul, sub, addmm_, vector_norm = torch.matmul, torch.sub, torch.Tensor.addmm_, torch.linalg.vector_norm
    steps = 0
    for _ in range(n_steps + (1 if tol is not None else 0)):
        for src, wt, a in layers:
            matmul(src, wt, out=a)  # (N, d_{i+1})
        for a, fa in nonlin_layers:
            f_into(a, fa)
        for tgt, fa, e in err_layers:
            sub(tgt, fa, out=e)
        for a, fa, e, s in slope_layers:
            slope_into(a, fa, e, s)
        for g, s, w in feedback:
            addmm_(g, s, w, alpha=-1.0)  # dF_i/dz_{i+1} = e_{i+1} - eps_{i+2} W_{i+2}, (N, d_{i+1})
        if tol is not None:
            for g, out in norm_outs:
                vector_norm(g, float("inf"), out=out)  # max |g|
            if float(norms.max()) < tol:
                return steps, True
        if steps == n_steps:
            break
        for zi, gi in updates:
            zi.add_(gi, alpha=-dt)
        steps += 1
    return steps, (None if tol is None else False)


def _euler_functional(weights, x, y, act, z, dt, n_steps, tol):
    """Euler written without in-place operations, so autograd / torch.func can differentiate it."""
    steps = 0
    for _ in range(n_steps + (1 if tol is not None else 0)):
        grads = _activity_grads(weights, [x, *z, y], act)
        if tol is not None and _max_abs([g.detach() for g in grads]) < tol:
            return z, steps, True
        if steps == n_steps:
            break
        z = [zi - dt * gi for zi, gi in zip(z, grads)]
        steps += 1
    return z, steps, (None if tol is None else False)


def _exact(weights, x, y):
    """The equilibrium of a linear network from one ``d_L x d_L`` solve (SPEC 1.8).

    ``e_L* = S^{-1} r``, ``e_l* = W_{l+1}^T e_{l+1}*`` and ``z_l* = W_l z_{l-1}* + e_l*``, with
    ``r = y - W_{L:1} x`` and ``S`` the rescaling matrix. The equilibrium is unique because ``F`` is
    a strictly convex quadratic in the hidden activities.
    """
    out = forward(weights, x)[-1]
    chol = torch.linalg.cholesky(rescaling(weights))
    err = torch.cholesky_solve((y - out).T, chol).T  # e_L*, (N, d_L)
    errors = []
    for w in reversed(weights[1:]):  # W_L, ..., W_2
        err = err @ w  # e_l* = e_{l+1}* W_{l+1}, (N, d_l)
        errors.append(err)
    errors.reverse()  # [e_1*, ..., e_H*]
    z, prev = [], x
    for w, e in zip(weights[:-1], errors):
        prev = prev @ w.T + e
        z.append(prev)
    return z


def infer(
    weights: Sequence[torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    activation: str = "linear",
    method: str = "euler",
    dt: float = 0.1,
    n_steps: int = 50,
    *,
    init: Sequence[torch.Tensor] | None = None,
    tol: float | None = None,
    rtol: float = 1e-3,
    atol: float = 1e-3,
    t1: float = 300.0,
    max_steps: int = 4096,
    controller: PIDController | None = None,
    differentiable: bool = False,
    return_info: bool = False,
):
    """PC inference: minimise the energy over the hidden activities with ``x`` and ``y`` clamped.

    Returns the hidden activities ``[z_1, ..., z_H]`` (each ``(N, d_l)``), and an
    :class:`InferenceInfo` as well when ``return_info=True``.

    Methods:

    * ``"euler"`` -- ``n_steps`` explicit Euler steps ``z <- z - dt dF_i/dz`` (the paper's default,
      ``dt = 0.1``, ``n_steps = 50``). With ``tol``, stop as soon as ``max |dF_i/dz| < tol`` and
      treat ``n_steps`` as the maximum: not converging then raises RuntimeError (unless
      ``return_info``, which reports ``converged=False``).
    * ``"exact"`` -- linear networks only: the equilibrium from one linear solve, no iteration.
    * ``"heun"`` -- adaptive Heun with a PID step-size controller (``rtol``, ``atol``), integrated
      to time ``t1`` as in the paper's Figure 1 (diffrax ``Heun`` + ``PIDController``, ``t1 = 300``).

    Activities start at ``init`` if given, otherwise at the feed-forward pass (all hidden errors
    zero). The default runs an in-place loop without an autograd graph and returns detached
    tensors; ``differentiable=True`` keeps the graph through every step, with the initial
    activities held fixed (detached), which is how the paper differentiates the energy after
    ``T`` inference steps.
    """
    widths = check_data(weights, x, y)
    check_choice("method", method, METHODS)
    act = get_activation(activation)
    n = x.shape[0]
    if method == "exact" and not act.is_linear:
        raise ValueError(
            f"method='exact' solves the equilibrium of a linear network only; received activation={activation!r}. "
            "Use method='euler' (with tol) or method='heun' for non-linear networks."
        )
    if method in ("euler",) and not (dt > 0 and int(n_steps) == n_steps and n_steps >= 0):
        raise ValueError(f"euler needs dt > 0 and an integer n_steps >= 0; received dt={dt}, n_steps={n_steps}")
    if tol is not None and not tol > 0:
        raise ValueError(f"tol must be positive or None; received {tol}")
    if tol is not None and method != "euler":
        raise ValueError(f"tol applies to method='euler' only; method={method!r} uses rtol/atol (heun) or is exact")
    if len(widths) == 2:  # no hidden layer: nothing to infer
        info = InferenceInfo(method, 0, 0.0, 0.0, True if tol is not None else None)
        return ([], info) if return_info else []

    if init is None:
        start = [z.detach() for z in forward(weights, x, activation)[:-1]]
    else:
        check_activities(widths, init, n, weights[0])
        start = [z.detach() for z in init]

    converged, t, rejected = None, 0.0, 0
    if method == "exact":
        with torch.set_grad_enabled(differentiable and torch.is_grad_enabled()):
            z = _exact(weights, x, y)
        steps = 0
    elif method == "euler":
        if differentiable:
            z, steps, converged = _euler_functional(weights, x, y, act, start, dt, int(n_steps), tol)
        else:
            z = [s.clone() for s in start]
            with torch.no_grad():
                steps, converged = _euler_inplace(
                    [w.detach() for w in weights], x.detach(), y.detach(), act, z, dt, int(n_steps), tol
                )
        t = steps * dt
    else:
        ctl = controller or PIDController(rtol=rtol, atol=atol)

        def rhs(state):
            return [-g for g in _activity_grads(weights, [x, *state, y], act)]

        with torch.set_grad_enabled(differentiable and torch.is_grad_enabled()):
            z, solve = heun_pid(rhs, start, t1, ctl, max_steps=max_steps)
        steps, t, rejected = solve.n_accepted, solve.t, solve.n_rejected

    if not differentiable:
        z = [zi.detach() for zi in z]
    if not all(bool(torch.isfinite(zi).all()) for zi in z):
        raise FloatingPointError(
            f"PC inference ({method}) produced non-finite activities; with euler the step dt={dt} may be too large "
            "for these weights (stable only for dt < 2 / lambda_max of the activity Hessian)"
        )
    if converged is False and not return_info:
        raise RuntimeError(
            f"euler inference did not reach max|dF/dz| < tol={tol} within n_steps={n_steps}; "
            "raise n_steps, or pass return_info=True to inspect the unconverged state"
        )
    if not return_info:
        return z
    with torch.no_grad():
        max_grad = _max_abs(_activity_grads(weights, [x, *[zi.detach() for zi in z], y], act))
    return z, InferenceInfo(method, steps, t, max_grad, converged, rejected)


def unrolled_energy(weights, x, y, n_steps: int, dt: float = 0.1, activation: str = "linear", *, init=None) -> torch.Tensor:
    """The energy after ``n_steps`` Euler inference steps, as a differentiable function of the weights.

    The initial activities (``init``, default the feed-forward pass of ``weights``) are held fixed
    (detached), the paper's procedure for the Hessian of the energy after ``T`` steps (SPEC 2.3):
    ``n_steps = 0`` gives the loss, ``n_steps -> inf`` the equilibrated energy. Written without
    data-dependent control flow so that ``torch.func`` transforms (``hessian``, ``vmap`` over a
    grid of weights for landscapes) apply.
    """
    widths = check_data(weights, x, y)
    act = get_activation(activation)
    if not (dt > 0 and int(n_steps) == n_steps and n_steps >= 0):
        raise ValueError(f"unrolled_energy needs dt > 0 and an integer n_steps >= 0; received dt={dt}, n_steps={n_steps}")
    if init is None:
        z = [zi.detach() for zi in forward(weights, x, activation)[:-1]]
    else:
        check_activities(widths, init, x.shape[0], weights[0])
        z = [zi.detach() for zi in init]
    for _ in range(int(n_steps)):
        z = [zi - dt * gi for zi, gi in zip(z, _activity_grads(weights, [x, *z, y], act))]
    errors, _ = _errors(weights, [x, *z, y], act)
    return 0.5 * sum(e.pow(2).sum() for e in errors) / x.shape[0]
