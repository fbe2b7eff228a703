"""The optimizer protocol: ``init`` / ``ask`` / ``update`` with explicit, JSON-ready state.

An optimizer never computes a gradient. Each step the training loop asks it what to measure
(:class:`Request`: the gradient method and its options, shots per component, whether the
metric tensor is needed), measures that, and hands back an :class:`Observation` (loss and
gradient with their standard errors). ``update`` returns the new parameters and the new
state. The state is a dict of JSON types only (numbers, lists, strings), so a checkpoint is a
``json.dump`` and a resumed run continues bit for bit: Python's JSON writes floats with the
shortest repr that round-trips exactly.

This package imports nothing from qtrain but :mod:`qtrain.errors` (a leaf module), so it can
be used with any gradient source.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ConfigError

__all__ = [
    "Observation",
    "Optimizer",
    "OptimizerState",
    "Request",
    "Update",
    "as_array",
    "check_positive",
    "check_unit_interval",
]

OptimizerState = dict[str, Any]
"""JSON-ready optimizer state: numbers, strings, lists of floats."""


@dataclass(frozen=True)
class Request:
    """What the loop should measure before the next update.

    Attributes:
        method: a gradient method name (``"spsa"``), or ``None`` for the run's configured one.
        options: options of that method (SPSA ``step`` and ``directions``).
        shots_per_component: ``(P,)`` shots per row and group for the rows of each gradient
            component (shot-adaptive optimizers), or ``None`` for the run's shot policy.
        metric_tensor: also measure the metric tensor (quantum natural gradient), in this
            approximation (``"full"`` or ``"block-diag"``); ``None``: not needed.
    """

    method: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    shots_per_component: NDArray[np.int64] | None = None
    metric_tensor: str | None = None


@dataclass(frozen=True)
class Observation:
    """What the loop measured at the current parameters.

    Attributes:
        loss: the loss value (or estimate).
        gradient: ``(P,)`` the gradient estimate.
        loss_stderr: standard error of ``loss`` (``None`` when exact).
        gradient_stderr: ``(P,)`` standard error per component (``None`` when exact).
        shots_per_component: ``(P,)`` shots per row and group each component was measured
            with — effectively: a component whose rows were shared with a component that
            asked for more got more, and reports that (the count that, in every row, would
            give it the variance it has); ``None`` when exact or unknown.
        metric: ``(P, P)`` metric tensor, when requested.
    """

    loss: float
    gradient: NDArray[np.float64]
    loss_stderr: float | None = None
    gradient_stderr: NDArray[np.float64] | None = None
    shots_per_component: NDArray[np.float64] | NDArray[np.int64] | None = None
    metric: NDArray[np.float64] | None = None


@dataclass(frozen=True)
class Update:
    """The result of one optimizer step.

    Attributes:
        theta: ``(P,)`` new parameters.
        state: the new JSON-ready state.
        learning_rate: the step size used (for the step record).
    """

    theta: NDArray[np.float64]
    state: OptimizerState
    learning_rate: float


@runtime_checkable
class Optimizer(Protocol):
    """A gradient-based optimizer with explicit state."""

    @property
    def name(self) -> str:
        """The registry name (``"adam"``)."""
        ...

    def config(self) -> dict[str, Any]:
        """The hyperparameters as JSON types (what a config file would say)."""
        ...

    def init(self, theta: NDArray[np.float64]) -> OptimizerState:
        """The state before the first step, for ``(P,)`` initial parameters."""
        ...

    def ask(self, state: OptimizerState) -> Request:
        """What to measure before the next update."""
        ...

    def update(
        self, state: OptimizerState, theta: NDArray[np.float64], observation: Observation
    ) -> Update:
        """One step from ``theta`` given what was measured there."""
        ...


def as_array(values: Any) -> NDArray[np.float64]:
    """A float64 array from state lists (a copy, so the state is never mutated)."""
    return np.array(values, dtype=np.float64)


def check_positive(value: object, name: str, *, allow_zero: bool = False) -> float:
    """``value`` as a float if it is a finite number > 0 (or ≥ 0); else a ConfigError."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def check_unit_interval(value: object, name: str) -> float:
    """``value`` as a float if it lies in ``[0, 1)``; else a ConfigError."""
    number = check_positive(value, name, allow_zero=True)
    if number >= 1:
        raise ConfigError(f"{name} must lie in [0, 1), got {value!r}")
    return number
