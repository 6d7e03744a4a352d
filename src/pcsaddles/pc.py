"""Predictive coding: energy (Eq. 2), inference (Eq. 3) and weight gradients (Eq. 4).

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
from .dln import activity_hessian, forward, mse_loss, rescaling
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


def _errors(weights: Sequence[torch.Tensor], zs: Sequence[torch.Tensor], act: Activation,
            first: torch.Tensor | None = None, *, mask: torch.Tensor | None = None):
    """Errors ``e_l`` and slopes ``eps_l = f_l'(a_l) * e_l`` for ``zs = [x, z_1, ..., z_H, y]``.

    ``first`` is the first layer's pre-activation ``a_1 = x W_1^T`` if already known: it does not
    depend on the hidden activities, so loops over inference steps compute it once. ``mask`` (the
    target's shape) multiplies the output error, ``e_L = mask * (y - W_L z_H)``: the output is
    clamped to the observed entries only (matrix completion, :mod:`pcsaddles.completion`).
    """
    last = len(weights) - 1
    errors, slopes = [], []
    for i, w in enumerate(weights):
        a = first if i == 0 and first is not None else zs[i] @ w.T  # (N, d_{i+1})
        if i == last or act.is_linear:
            e = zs[i + 1] - a
            if i == last and mask is not None:
                e = mask * e
            errors.append(e)
            slopes.append(e)
        else:
            fa = act.f(a)
            e = zs[i + 1] - fa
            errors.append(e)
            slopes.append(e * act.fprime(a, fa))
    return errors, slopes


def _activity_grads(weights, zs, act, first: torch.Tensor | None = None, *, mask: torch.Tensor | None = None
                    ) -> list[torch.Tensor]:
    """Per-example ``dF_i/dz_l = e_l - W_{l+1}^T eps_{l+1}`` for the hidden layers, each ``(N, d_l)``
    (``first`` and ``mask`` as in :func:`_errors`)."""
    errors, slopes = _errors(weights, zs, act, first, mask=mask)
    return [errors[i] - slopes[i + 1] @ weights[i + 1] for i in range(len(weights) - 1)]


def _check_mask(mask, y) -> None:
    if mask is None:
        return
    if not isinstance(mask, torch.Tensor) or mask.shape != y.shape:
        got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"mask must be a tensor of the target's shape {tuple(y.shape)} (1 observed, 0 missing); "
                         f"received {got}")


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


def weight_grads(weights, activities, x, y, activation: str = "linear", *, mask: torch.Tensor | None = None
                 ) -> list[torch.Tensor]:
    """``dF/dW_l = -1/N sum_i (f_l'(a_{l,i}) * e_{l,i}) z_{l-1,i}^T`` for every layer, each ``(d_l, d_{l-1})``.

    Evaluated at the given activities (normally the inference equilibrium, where by the envelope
    theorem this is the gradient of the equilibrated energy F*). The batch normalisation is the
    paper's ``1/N``; the authors' training code uses the batch *sum* (``N`` times larger; see :mod:`pcsaddles.normalisation`).
    ``mask`` (0/1, ``y``'s shape) clamps the output to the observed entries only (see :func:`_errors`).
    """
    act = _validated(weights, activities, x, y, activation)
    _check_mask(mask, y)
    zs = [x, *activities, y]
    _, slopes = _errors(weights, zs, act, mask=mask)
    n = x.shape[0]
    return [-(s.T @ z) / n for s, z in zip(slopes, zs[:-1])]


# --------------------------------------------------------------------------------------------
# inference


def _max_abs(tensors: Sequence[torch.Tensor]) -> float:
    return max((float(t.abs().max()) for t in tensors if t.numel()), default=0.0)


def _euler_inplace(weights, x, y, act: Activation, z: list[torch.Tensor], dt: float, n_steps: int, tol, mask=None):
    """The hot path: explicit Euler on preallocated buffers, no autograd graph.

    Per step it needs 2H matrix products (predictions of layers 2..L and the feedback through
    W_2..W_L); the first layer's prediction f(x W_1^T) does not change and is computed once.

    The hidden layers' activities, pre-activations, predictions, errors and slopes each live in one
    flat buffer, allocated once, of which every layer is a contiguous ``(N, d_l)`` view. The matrix
    products write into the views (``out=`` / in-place ``addmm_``) and every elementwise stage is one
    operation over all hidden layers at once (fewer, larger kernels, which also parallelise). The
    values are those of :func:`_euler_functional` up to round-off: the elementwise stages round the
    same way, but the feedback ``e_l - eps_{l+1} W_{l+1}`` is one ``addmm`` (BLAS accumulates into
    ``e_l``) and the update ``z - dt g`` one ``add_`` with ``alpha`` (a fused multiply-add).
    """
    n_layers = len(weights)
    hidden = n_layers - 1
    n = x.shape[0]
    widths = [zi.shape[1] for zi in z]
    starts = [0]
    for d in widths:
        starts.append(starts[-1] + n * d)
    opts = {"dtype": x.dtype, "device": x.device}

    def flat():
        return torch.empty(starts[-1], **opts)

    def views(buf):  # the hidden layers' (N, d_l) blocks of a flat buffer
        return [buf[s : s + n * d].view(n, d) for s, d in zip(starts, widths)]

    nonlin = not act.is_linear
    acts = flat()  # z_1, ..., z_H
    for v, zi in zip(views(acts), z):
        v.copy_(zi)
    pred = flat()  # f(a_l) for the hidden layers (a_l itself when linear)
    pre = flat() if nonlin else pred  # a_l = z_{l-1} W_l^T
    err = flat()  # e_l, overwritten in place by the activity gradient dF_i/dz_l
    slope = flat() if nonlin else err  # eps_l = f'(a_l) * e_l (only layers 2..H are used)
    zs, pres, preds, errs, slopes = map(views, (acts, pre, pred, err, slope))
    a_out = torch.empty(n, weights[-1].shape[0], **opts)  # output layer: prediction a_L, slope = error
    e_out = torch.empty_like(a_out)

    torch.matmul(x, weights[0].T, out=pres[0])  # layer 1: fixed for the whole run
    if nonlin:
        act.f_into(pres[0], preds[0])
    # layers 2..H: the hidden layers whose prediction changes, one contiguous range of every buffer
    rest = slice(starts[1], starts[-1])
    nonlin_rest = nonlin and hidden > 1
    pre_rest, pred_rest, err_rest, slope_rest = pre[rest], pred[rest], err[rest], slope[rest]
    products = [(zs[i - 1], weights[i].T, pres[i]) for i in range(1, hidden)] + [(zs[-1], weights[-1].T, a_out)]
    # dF_i/dz_l = e_l - eps_{l+1} W_{l+1}, in place in errs[l] for ascending l: errs[l] is read only
    # by slopes[l] (formed before) and, where slopes[l] is errs[l] (linear), by gradient l - 1 (done)
    feedback = [(errs[i], slopes[i + 1] if i + 1 < hidden else e_out, weights[i + 1]) for i in range(hidden)]
    if tol is not None:
        max_grad = torch.empty((), **opts)
    matmul, sub, addmm_ = torch.matmul, torch.sub, torch.Tensor.addmm_
    steps, converged = 0, (None if tol is None else False)
    for _ in range(n_steps + (1 if tol is not None else 0)):
        for src, wt, out in products:
            matmul(src, wt, out=out)  # a_{l} = z_{l-1} W_l^T, (N, d_l)
        if nonlin_rest:
            act.f_into(pre_rest, pred_rest)
        sub(acts, pred, out=err)  # hidden errors
        sub(y, a_out, out=e_out)  # output error
        if mask is not None:
            e_out.mul_(mask)  # clamped to the observed entries only
        if nonlin_rest:
            act.slope_into(pre_rest, pred_rest, err_rest, slope_rest)
        for g, s, w in feedback:
            addmm_(g, s, w, alpha=-1.0)  # (N, d_l)
        if tol is not None:
            torch.linalg.vector_norm(err, float("inf"), out=max_grad)  # max |dF_i/dz|
            if float(max_grad) < tol:
                converged = True
                break
        if steps == n_steps:
            break
        acts.add_(err, alpha=-dt)
        steps += 1
    for zi, v in zip(z, zs):
        zi.copy_(v)
    return steps, converged


def _euler_functional(weights, x, y, act, z, dt, n_steps, tol, mask=None):
    """Euler written without in-place operations, so autograd / torch.func can differentiate it."""
    steps = 0
    first = x @ weights[0].T  # a_1: fixed for the whole run
    for _ in range(n_steps + (1 if tol is not None else 0)):
        grads = _activity_grads(weights, [x, *z, y], act, first, mask=mask)
        if tol is not None and _max_abs([g.detach() for g in grads]) < tol:
            return z, steps, True
        if steps == n_steps:
            break
        z = [zi - dt * gi for zi, gi in zip(z, grads)]
        steps += 1
    return z, steps, (None if tol is None else False)


def _exact(weights, x, y):
    """The equilibrium of a linear network from one ``d_L x d_L`` solve (the minimum-norm errors behind Eq. 5).

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
    mask: torch.Tensor | None = None,
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

    ``mask`` (0/1, ``y``'s shape; euler and heun) clamps the output to the observed entries only:
    the output error is ``mask * (y - W_L z_H)`` (matrix completion, Figure 6).
    """
    widths = check_data(weights, x, y)
    _check_mask(mask, y)
    check_choice("method", method, METHODS)
    act = get_activation(activation)
    n = x.shape[0]
    if method == "exact" and mask is not None:
        raise ValueError("method='exact' has no masked variant; use method='euler' or 'heun' with a mask")
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

    if init is not None:
        check_activities(widths, init, n, weights[0])
        start = [z.detach() for z in init]
    elif method != "exact":  # the exact solve needs no starting point
        start = [z.detach() for z in forward(weights, x, activation)[:-1]]

    converged, t, rejected = None, 0.0, 0
    if method == "exact":
        with torch.set_grad_enabled(differentiable and torch.is_grad_enabled()):
            z = _exact(weights, x, y)
        steps = 0
    elif method == "euler":
        if differentiable:
            z, steps, converged = _euler_functional(weights, x, y, act, start, dt, int(n_steps), tol, mask)
        else:
            z = [s.clone() for s in start]
            with torch.no_grad():
                steps, converged = _euler_inplace(
                    [w.detach() for w in weights], x.detach(), y.detach(), act, z, dt, int(n_steps), tol,
                    None if mask is None else mask.detach(),
                )
        t = steps * dt
    else:
        ctl = controller or PIDController(rtol=rtol, atol=atol)
        with torch.set_grad_enabled(differentiable and torch.is_grad_enabled()):
            first = x @ weights[0].T  # a_1: fixed for the whole solve

            def rhs(state):
                return [-g for g in _activity_grads(weights, [x, *state, y], act, first, mask=mask)]

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
        max_grad = _max_abs(_activity_grads(weights, [x, *[zi.detach() for zi in z], y], act, mask=mask))
    return z, InferenceInfo(method, steps, t, max_grad, converged, rejected)


def unrolled_energy(weights, x, y, n_steps: int, dt: float = 0.1, activation: str = "linear", *, init=None) -> torch.Tensor:
    """The energy after ``n_steps`` Euler inference steps, as a differentiable function of the weights.

    The initial activities (``init``, default the feed-forward pass of ``weights``) are held fixed
    (detached), the paper's procedure for the Hessian of the energy after ``T`` steps (Figures 3, 4, 8-10):
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
    first = x @ weights[0].T  # a_1 = x W_1^T does not depend on the activities: once, not per step
    for _ in range(int(n_steps)):
        z = [zi - dt * gi for zi, gi in zip(z, _activity_grads(weights, [x, *z, y], act, first))]
    errors, _ = _errors(weights, [x, *z, y], act, first)
    return 0.5 * sum(e.pow(2).sum() for e in errors) / x.shape[0]


def unrolled_energy_linear(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor, n_steps: int,
                           dt: float = 0.1, *, init: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
    """The energy after ``n_steps`` Euler inference steps of a linear network, in closed form.

    Same value as :func:`unrolled_energy` (initial activities ``init``, default the
    feed-forward pass, held fixed): stacking the hidden activities of example ``i`` in a row
    ``z_i = [z_1, ..., z_H]`` (``D = sum_l n_l`` entries), the activity gradient is affine,
    ``g_i = z_i K - c_i`` with ``K`` the activity Hessian (:func:`pcsaddles.dln.activity_hessian`)
    and ``c_i`` holding ``W_1 x_i`` in block 1 and ``W_L^T y_i`` in block ``H``. So Euler gives
    ``Z_T = Z* + (Z_0 - Z*) (I - dt K)^T`` with ``Z* = C K^{-1}``, and the energy (Eq. 2) is
    evaluated at ``Z_T``. The matrix power costs ``O(log T)`` products, so second derivatives are
    cheap.
    """
    widths = check_data(weights, x, y)
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 0:
        raise ValueError(f"n_steps must be an integer >= 0; received {n_steps!r}")
    hidden = widths[1:-1]
    if not hidden:
        return mse_loss(weights, x, y)
    if init is None:
        start = [z.detach() for z in forward(weights, x)[:-1]]
    else:
        check_activities(widths, init, x.shape[0], weights[0])
        start = [z.detach() for z in init]
    return _linear_unrolled(weights, x, y, start, int(n_steps), dt)


def _linear_unrolled(weights, x, y, start: Sequence[torch.Tensor], n_steps: int, dt: float) -> torch.Tensor:
    """The energy after ``n_steps`` Euler steps of a linear network from ``start = [z_1, ..., z_H]``,
    in closed form (:func:`unrolled_energy_linear`'s docstring). ``start`` is used as given: detached
    (the paper's procedure) or in the autograd graph (:func:`pcsaddles.finite_inference.tracked_unrolled_energy`)."""
    z0 = torch.cat(list(start), dim=1)  # (N, D)
    k = activity_hessian(weights)  # (D, D)
    parts = [torch.zeros_like(s) for s in start]
    parts[0] = parts[0] + x @ weights[0].T  # W_1 x_i, (N, n_1)
    parts[-1] = parts[-1] + y @ weights[-1]  # W_L^T y_i, (N, n_H)
    c = torch.cat(parts, dim=1)  # (N, D)
    z_star = torch.linalg.solve(k, c.T).T  # C K^{-1} (K symmetric), (N, D)
    step = torch.eye(k.shape[0], dtype=k.dtype, device=k.device) - dt * k
    z_t = z_star + (z0 - z_star) @ torch.linalg.matrix_power(step, n_steps)
    return energy(weights, list(torch.split(z_t, [s.shape[1] for s in start], dim=1)), x, y)
