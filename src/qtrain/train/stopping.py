"""Hard budgets and stop rules of a training run.

A :class:`Budget` is never exceeded: a step whose planned shots would pass ``max_shots`` is not
started, nor one whose price under the run's pricing table would pass ``max_cost``
(``exec.pricing``; retries the money left cannot pay for are not made either), nor one that
would likely end after ``max_seconds`` (judged by the previous step's duration). What a
step's money is — its quote, allowance and charge — is ``train/step_money.py``.
:class:`StopRules` end a run early when it has converged.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from qtrain.errors import ConfigError
from qtrain.exec.pricing import to_decimal
from qtrain.train.records import StepRecord

__all__ = ["Budget", "StopRules"]


def _optional_positive(value: object, name: str, *, integer: bool = False) -> None:
    if value is None:
        return
    wrong_kind = integer and not isinstance(value, int)
    if isinstance(value, bool) or not isinstance(value, int | float) or wrong_kind or value <= 0:
        kind = "int" if integer else "number"
        raise ConfigError(f"{name} must be a positive {kind} or None, got {value!r}")


@dataclass(frozen=True)
class Budget:
    """Hard limits of a run.

    Attributes:
        max_steps: optimizer steps.
        max_shots: total shots (``None``: unlimited).
        max_seconds: wall time over all sessions of the run (``None``: unlimited).
        max_cost: money over all sessions, in the pricing table's currency (``None``:
            unlimited; a limit needs ``fit(pricing=...)``).
    """

    max_steps: int = 100
    max_shots: int | None = None
    max_seconds: float | None = None
    max_cost: float | None = None

    def __post_init__(self) -> None:
        _optional_positive(self.max_steps, "max_steps", integer=True)
        if self.max_steps is None:
            raise ConfigError("max_steps must be a positive int, got None")
        _optional_positive(self.max_shots, "max_shots", integer=True)
        _optional_positive(self.max_seconds, "max_seconds")
        _optional_positive(self.max_cost, "max_cost")

    def money_left(self, cost_total: float | Decimal) -> Decimal | None:
        """What ``max_cost`` leaves after ``cost_total`` (exact; ``None``: no money limit)."""
        if self.max_cost is None:
            return None
        return to_decimal(self.max_cost) - to_decimal(cost_total)

    def affords(
        self,
        shots_total: int,
        cost_total: float | Decimal,
        *,
        shots: int,
        money: Decimal | None,
    ) -> str | None:
        """The limit ``shots`` more would pass after ``shots_total``, ``cost_total``; or ``None``.

        ``max_shots`` or ``max_cost`` (``money``: their price; ``None``: not priced).
        """
        if self.max_shots is not None and shots_total + shots > self.max_shots:
            return "max_shots"
        left = self.money_left(cost_total)
        if left is not None and money is not None and money > left:
            return "max_cost"
        return None

    def refuses(
        self,
        *,
        step: int,
        shots_total: int,
        cost: int,
        elapsed: float,
        last_seconds: float | None,
        cost_total: float | Decimal = 0.0,
        money: Decimal | None = None,
    ) -> str | None:
        """Why the next step must not start, or ``None`` when it may.

        ``cost``: the step's shots; ``money``: its price (``None``: not priced), checked
        against what ``max_cost`` leaves after ``cost_total``.
        """
        if step >= self.max_steps:
            return "max_steps"
        refusal = self.affords(shots_total, cost_total, shots=cost, money=money)
        if refusal is not None:
            return refusal
        if self.max_seconds is not None and elapsed + (last_seconds or 0.0) > self.max_seconds:
            return "max_seconds"
        return None


@dataclass(frozen=True)
class StopRules:
    """When a run has converged (checked after every step).

    Attributes:
        loss_tolerance: stop when ``|L_k − L_{k−1}|`` stays below this for ``patience`` steps.
        patience: consecutive steps a tolerance rule must hold.
        grad_tolerance: stop when ``‖ĝ‖`` falls below this (exact gradients).
        grad_snr_below: stop when the gradient norm is within this many of its own standard
            errors for ``patience`` steps (``‖ĝ‖ < x·√Σσ_k²``): the signal is lost in shot
            noise, so more steps only spend shots. ``1`` is the natural choice.
        target: stop when the loss reaches this value or below.
        callback: ``f(record) -> bool``; ``True`` stops the run.
    """

    loss_tolerance: float | None = None
    patience: int = 1
    grad_tolerance: float | None = None
    grad_snr_below: float | None = None
    target: float | None = None
    callback: Callable[[StepRecord], bool] | None = None

    def __post_init__(self) -> None:
        _optional_positive(self.loss_tolerance, "loss_tolerance")
        _optional_positive(self.patience, "patience", integer=True)
        _optional_positive(self.grad_tolerance, "grad_tolerance")
        _optional_positive(self.grad_snr_below, "grad_snr_below")
        if self.target is not None and not isinstance(self.target, int | float):
            raise ConfigError(f"target must be a number or None, got {self.target!r}")

    def reason(self, history: Sequence[StepRecord]) -> str | None:
        """The rule that says stop after the last record, or ``None``."""
        last = history[-1]
        if self.target is not None and last.loss <= self.target:
            return "target"
        if self.grad_tolerance is not None and last.grad_norm < self.grad_tolerance:
            return "grad_tolerance"
        window = history[-self.patience :]
        if self.grad_snr_below is not None and len(window) == self.patience:
            if all(r.grad_snr is not None and r.grad_snr < self.grad_snr_below for r in window):
                return "grad_snr_below"
        # The last `patience` changes only: a step costs the same at step 10 and 10 000.
        tail = history[-self.patience - 1 :]
        recent = [abs(b.loss - a.loss) for a, b in itertools.pairwise(tail)]
        if self.loss_tolerance is not None and len(recent) == self.patience:
            if all(change < self.loss_tolerance for change in recent):
                return "loss_tolerance"
        if self.callback is not None and self.callback(last):
            return "callback"
        return None
