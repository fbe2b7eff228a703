"""Gradient descent with optional (Nesterov) momentum.

``v ← μ·v + g``, ``θ ← θ − η_k·v`` (heavy ball, Polyak 1964), or with Nesterov's correction
``θ ← θ − η_k·(g + μ·v)`` (Sutskever et al., ICML 2013). ``μ = 0`` is plain descent.

>>> import numpy as np
>>> opt = GradientDescent(learning_rate=0.1)
>>> state = opt.init(np.zeros(2))
>>> step = opt.update(state, np.zeros(2), Observation(1.0, np.array([1.0, -2.0])))
>>> step.theta.tolist()
[-0.1, 0.2]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.optim.base import (
    Observation,
    OptimizerState,
    Request,
    Update,
    as_array,
    check_positive,
    check_unit_interval,
)
from qtrain.optim.schedules import Constant, Schedule

__all__ = ["GradientDescent"]


@dataclass(frozen=True)
class GradientDescent:
    """Gradient descent, with momentum ``μ`` and optionally Nesterov's look-ahead.

    Attributes:
        learning_rate: base step size ``η``.
        momentum: ``μ`` in ``[0, 1)``.
        nesterov: use Nesterov momentum.
        schedule: learning-rate factor per step (default constant).
    """

    learning_rate: float = 0.1
    momentum: float = 0.0
    nesterov: bool = False
    schedule: Schedule = field(default_factory=Constant)
    name: str = field(default="sgd", init=False)

    def __post_init__(self) -> None:
        check_positive(self.learning_rate, "learning_rate")
        check_unit_interval(self.momentum, "momentum")

    def config(self) -> dict[str, Any]:  # noqa: D102 - see Optimizer
        return {
            "name": self.name,
            "learning_rate": self.learning_rate,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "schedule": self.schedule.config(),
        }

    def init(self, theta: NDArray[np.float64]) -> OptimizerState:  # noqa: D102 - see Optimizer
        return {"step": 0, "velocity": [0.0] * int(np.size(theta))}

    def ask(self, state: OptimizerState) -> Request:  # noqa: D102 - see Optimizer
        return Request()

    def update(  # noqa: D102 - see Optimizer
        self, state: OptimizerState, theta: NDArray[np.float64], observation: Observation
    ) -> Update:
        k = int(state["step"])
        rate = self.learning_rate * self.schedule(k)
        grad = observation.gradient
        velocity = self.momentum * as_array(state["velocity"]) + grad
        direction = grad + self.momentum * velocity if self.nesterov else velocity
        new_state = {"step": k + 1, "velocity": velocity.tolist()}
        return Update(theta - rate * direction, new_state, rate)
