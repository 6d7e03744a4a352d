"""Hidden-layer activation functions and their derivatives.

An activation applies to hidden layers only; the output layer of every network is linear
(the paper's non-linear networks, Figures 5, 6, 11, 12). Each entry gives ``f(a)`` and ``f'(a)`` written in terms of ``a`` and ``f(a)``, so the
inference loop reuses the value it already computed (``tanh' = 1 - tanh^2``).

For the in-place inference loop each entry can also write into preallocated buffers
(:meth:`Activation.f_into`, :meth:`Activation.slope_into`); these compute bit for bit the same
values as ``f`` and ``e * fprime(a, f(a))``, only without temporaries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ._checks import check_choice

# 0-dim CPU tensor: usable with tensors of any floating dtype and device (0-dim tensors act as
# scalars in type promotion and may be combined with CUDA tensors).
_ONE = torch.tensor(1.0)


@dataclass(frozen=True)
class Activation:
    name: str
    f: Callable[[torch.Tensor], torch.Tensor]
    #: derivative ``f'(a)`` from ``(a, f(a))``; ``None`` for the identity (derivative 1)
    fprime: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None
    #: optional ``f(a)`` written into ``out`` (same values as ``f``); signature ``(a, out)``
    f_out: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    #: optional slope ``e * f'(a)`` written into ``out`` (same values as ``e * fprime(a, fa)``);
    #: signature ``(a, fa, e, out)``; ``out`` must not alias ``a``, ``fa`` or ``e``
    slope_out: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None

    @property
    def is_linear(self) -> bool:
        return self.fprime is None

    def f_into(self, a: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``out <- f(a)`` without a temporary where the activation provides an out= form."""
        if self.f_out is not None:
            return self.f_out(a, out)
        return out.copy_(self.f(a))

    def slope_into(self, a: torch.Tensor, fa: torch.Tensor, e: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``out <- e * f'(a)`` (``fa = f(a)``), the same rounding as ``e * fprime(a, fa)``."""
        if self.slope_out is not None:
            return self.slope_out(a, fa, e, out)
        if self.fprime is None:
            return out.copy_(e)
        return torch.mul(e, self.fprime(a, fa), out=out)


def _tanh_out(a, out):
    return torch.tanh(a, out=out)


def _tanh_slope_out(a, fa, e, out):
    # e * (1 - fa * fa), rounded exactly as the functional form (no fused multiply-add)
    torch.mul(fa, fa, out=out)
    torch.sub(_ONE, out, out=out)
    return out.mul_(e)


def _relu_out(a, out):
    return torch.clamp_min(a, 0, out=out)  # torch.relu is clamp_min(a, 0)


def _relu_slope_out(a, fa, e, out):
    torch.gt(a, 0, out=out)  # (a > 0) as 1.0 / 0.0 in out's dtype
    return out.mul_(e)


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation("linear", lambda a: a, None),
    "tanh": Activation("tanh", torch.tanh, lambda a, fa: 1.0 - fa * fa, _tanh_out, _tanh_slope_out),
    "relu": Activation("relu", torch.relu, lambda a, fa: (a > 0).to(a.dtype), _relu_out, _relu_slope_out),
}


def get_activation(name: str) -> Activation:
    """Look up an activation by name: ``"linear"``, ``"tanh"`` or ``"relu"``."""
    return ACTIVATIONS[check_choice("activation", name, tuple(ACTIVATIONS))]
