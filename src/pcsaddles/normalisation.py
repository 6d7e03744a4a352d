"""The loss and energy normalisations of the BP-vs-PC comparisons, and the matched control.

The paper writes the loss and the energy with ``1/(2N) sum_i`` (Eqs. 1 and 2). The authors' code
for the BP-vs-PC figures (2, 5, 6, 7, 11, 12) used other normalisations for the two rules, and a
gradient step is ``lr * c * (paper-normalised gradient)`` with the factor ``c`` of
:func:`grad_scale`.

**Normalisation conventions**, the factors ``c``:

============  ==========================================  ===========================================
convention    BP objective, ``c_BP``                      PC objective, ``c_PC``
============  ==========================================  ===========================================
``"paper"``   ``L = 1/(2N) sum ||r||^2``, ``c = 1``       ``F = 1/(2N) sum ||e||^2``, ``c = 1``
``"authors"`` ``nn.MSELoss`` = ``1/(N d_L) sum ||r||^2``  ``1/2 sum_batch ||e||^2`` (a batch *sum*),
              = ``(2/d_L) L``, ``c = 2/d_L``              ``= N F``, ``c = N``
============  ==========================================  ===========================================

So under the authors' conventions PC's step is ``c_PC / c_BP = N d_L / 2`` times BP's at the same
nominal learning rate (x96 for the 3-D toy net with N = 64, x320 for 10 classes). The
*normalisation-matched* BP control multiplies BP's learning rate by :func:`matched_lr_factor`
``= N d_L / 2``, which makes its step ``N * grad L``, the same scale as the authors' PC step.

**Reported losses** (``report``): ``"paper"`` is ``L`` (Eq. 1); ``"mse"`` is ``nn.MSELoss``
``= 1/(N d_L) sum ||r||^2 = (2/d_L) L``, what the paper's BP-vs-PC figures plot. For PC the
training loss is the loss of the feed-forward pass on the batch (as in the authors' code), not
the energy.
"""

from __future__ import annotations

import torch

from ._checks import check_choice

RULES = ("bp", "pc")
CONVENTIONS = ("paper", "authors")
REPORTS = ("paper", "mse")

__all__ = ["CONVENTIONS", "REPORTS", "RULES", "grad_scale", "matched_lr_factor", "reported_loss"]


def grad_scale(rule: str, convention: str, n: int, d_out: int) -> float:
    """The factor ``c`` with ``step = lr * c * (paper-normalised gradient)`` (table in the module doc).

    ``"paper"``: 1 for both rules. ``"authors"``: ``2 / d_out`` for BP (``nn.MSELoss``), ``n`` for
    PC (gradient of ``1/2`` times the batch *sum* of squared errors).
    """
    check_choice("rule", rule, RULES)
    check_choice("convention", convention, CONVENTIONS)
    if convention == "paper":
        return 1.0
    return 2.0 / d_out if rule == "bp" else float(n)


def matched_lr_factor(n: int, d_out: int) -> float:
    """``N d_L / 2``: the ratio of the authors' PC step to their BP step at equal learning rate.

    BP run with ``lr * matched_lr_factor(N, d_L)`` under the ``"authors"`` convention takes steps
    ``lr * N * grad L``, the same normalisation as the authors' PC steps ``lr * N * dF/dtheta``
    (the normalisation-matched control; see the book's page on departures from the paper).
    """
    if n < 1 or d_out < 1:
        raise ValueError(f"need a batch size n >= 1 and d_out >= 1; received n={n}, d_out={d_out}")
    return n * d_out / 2.0


def reported_loss(out: torch.Tensor, y: torch.Tensor, report: str = "paper", mask: torch.Tensor | None = None) -> torch.Tensor:
    """The loss of predictions ``out (N, d_L)``: ``"paper"`` ``1/(2N) sum ||y - out||^2`` (Eq. 1),
    ``"mse"`` ``1/(N d_L) sum ||y - out||^2`` (``nn.MSELoss``, what the paper's BP-vs-PC figures show).

    With a 0/1 ``mask`` of ``y``'s shape only observed entries count (held-out ones contribute 0 but
    the mean is still over all ``N d_L`` entries, as ``nn.MSELoss(mask * out, mask * y)``)."""
    check_choice("report", report, REPORTS)
    diff = y - out
    if mask is not None:
        diff = mask * diff
    sq = diff.pow(2)
    return sq.mean() if report == "mse" else 0.5 * sq.sum() / out.shape[0]
