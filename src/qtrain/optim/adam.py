"""Adam (Kingma & Ba, ICLR 2015), with bias-corrected first and second moments.

``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
``θ ← θ − η_k · m̂ / (√v̂ + ε)`` with ``m̂ = m/(1−β₁^t)``, ``v̂ = v/(1−β₂^t)``.

>>> import numpy as np
>>> opt = Adam(learning_rate=0.1)
>>> state = opt.init(np.zeros(1))
>>> step = opt.update(state, np.zeros(1), Observation(0.0, np.array([3.0])))
>>> round(float(step.theta[0]), 6)  # the first Adam step has length η whatever |g| is
-0.1
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

__all__ = ["Adam"]


@dataclass(frozen=True)
class Adam:
    """Adam.

    Attributes:
        learning_rate: base step size ``η``.
        beta1: first-moment decay ``β₁`` in ``[0, 1)``.
        beta2: second-moment decay ``β₂`` in ``[0, 1)``.
        eps: ``ε`` added to ``√v̂``.
        schedule: learning-rate factor per step (default constant).
    """

    learning_rate: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    schedule: Schedule = field(default_factory=Constant)
    name: str = field(default="adam", init=False)

    def __post_init__(self) -> None:
        check_positive(self.learning_rate, "learning_rate")
        check_unit_interval(self.beta1, "beta1")
        check_unit_interval(self.beta2, "beta2")
        check_positive(self.eps, "eps", allow_zero=True)

    def config(self) -> dict[str, Any]:  # noqa: D102 - see Optimizer
        return {
            "name": self.name,
            "learning_rate": self.learning_rate,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "eps": self.eps,
            "schedule": self.schedule.config(),
        }

    def init(self, theta: NDArray[np.float64]) -> OptimizerState:  # noqa: D102 - see Optimizer
        zeros = [0.0] * int(np.size(theta))
        return {"step": 0, "m": zeros, "v": list(zeros)}

    def ask(self, state: OptimizerState) -> Request:  # noqa: D102 - see Optimizer
        return Request()

    def update(  # noqa: D102 - see Optimizer
        self, state: OptimizerState, theta: NDArray[np.float64], observation: Observation
    ) -> Update:
        k = int(state["step"])
        rate = self.learning_rate * self.schedule(k)
        grad = observation.gradient
        m = self.beta1 * as_array(state["m"]) + (1 - self.beta1) * grad
        v = self.beta2 * as_array(state["v"]) + (1 - self.beta2) * grad**2
        t = k + 1
        m_hat = m / (1 - self.beta1**t)
        v_hat = v / (1 - self.beta2**t)
        new_theta = theta - rate * m_hat / (np.sqrt(v_hat) + self.eps)
        return Update(new_theta, {"step": t, "m": m.tolist(), "v": v.tolist()}, rate)
