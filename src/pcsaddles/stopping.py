"""Stopping rules of the training loop (:func:`pcsaddles.train.train`).

A rule is called after every update with a :class:`Progress` and ends the run when it returns
True. The book uses three: the one-unit chain's PC run stops once the test loss is below
``1e-3`` (Figure 2), matrix completion stops once the training loss is below ``1e-2``
(Figure 6), and the authors' rule for Figures 5 and 12 stops when the epoch-average training loss
improves by less than ``1e-3``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["Progress", "StopRule", "stop_on_plateau", "stop_when_test_below", "stop_when_train_below"]


@dataclass
class Progress:
    """What a stopping rule sees after update ``iteration`` (0-based): tensors (on the weights'
    device) of the training losses so far and of the test losses measured so far."""

    iteration: int
    train_loss: torch.Tensor
    test_loss: torch.Tensor


StopRule = Callable[[Progress], bool]


def stop_when_test_below(threshold: float) -> StopRule:
    """Stop once the latest test loss is below ``threshold`` (the 1-unit chain's PC rule, 1e-3)."""

    def rule(p: Progress) -> bool:
        return p.test_loss.numel() > 0 and float(p.test_loss[-1]) < threshold

    return rule


def stop_when_train_below(threshold: float) -> StopRule:
    """Stop once the latest training loss (of the weights before the update) is below ``threshold``
    (matrix completion, Figure 6: ``1e-2``)."""

    def rule(p: Progress) -> bool:
        return float(p.train_loss[-1]) < threshold

    return rule


def stop_on_plateau(epoch_length: int, tol: float) -> StopRule:
    """The authors' rule: at the end of each epoch (``epoch_length`` iterations) after the first,
    stop when the epoch-average training loss decreased by less than ``tol``."""
    if epoch_length < 1:
        raise ValueError(f"epoch_length must be >= 1; received {epoch_length}")

    def rule(p: Progress) -> bool:
        done = p.iteration + 1
        if done % epoch_length or done < 2 * epoch_length:
            return False
        last = p.train_loss[done - epoch_length:done].mean()
        prev = p.train_loss[done - 2 * epoch_length:done - epoch_length].mean()
        return float(prev - last) < tol

    return rule
