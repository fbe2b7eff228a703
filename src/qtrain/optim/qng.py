"""Quantum natural gradient (Stokes, Izaac, Killoran, Carleo, Quantum 4, 269 (2020)).

``θ ← θ − η_k · (g + λI)⁻¹ ∇L``, with ``g`` the Fubini–Study metric tensor measured at θ
(``qt.metric_tensor``, full or block-diagonal) and ``λ`` a Tikhonov regularisation that keeps
the solve well posed where the metric is singular (redundant parameters).

>>> import numpy as np
>>> opt = QNG(learning_rate=0.5, regularization=0.0)
>>> state = opt.init(np.zeros(2))
>>> opt.ask(state).metric_tensor
'block-diag'
>>> obs = Observation(0.0, np.array([1.0, 1.0]), metric=np.diag([0.25, 0.5]))
>>> opt.update(state, np.zeros(2), obs).theta.tolist()
[-2.0, -1.0]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ConfigError
from qtrain.optim.base import Observation, OptimizerState, Request, Update, check_positive
from qtrain.optim.schedules import Constant, Schedule

__all__ = ["QNG"]

APPROXIMATIONS = ("block-diag", "full")


@dataclass(frozen=True)
class QNG:
    """Quantum natural gradient descent.

    Attributes:
        learning_rate: base step size ``η``.
        regularization: ``λ ≥ 0`` added to the metric's diagonal.
        approx: ``"block-diag"`` (layer blocks, cheaper) or ``"full"`` metric tensor.
        schedule: learning-rate factor per step (default constant).
    """

    learning_rate: float = 0.05
    regularization: float = 1e-3
    approx: str = "block-diag"
    schedule: Schedule = field(default_factory=Constant)
    name: str = field(default="qng", init=False)

    def __post_init__(self) -> None:
        check_positive(self.learning_rate, "learning_rate")
        check_positive(self.regularization, "regularization", allow_zero=True)
        if self.approx not in APPROXIMATIONS:
            raise ConfigError(
                f"approx must be one of {', '.join(APPROXIMATIONS)}, got {self.approx!r}"
            )

    def config(self) -> dict[str, Any]:  # noqa: D102 - see Optimizer
        return {
            "name": self.name,
            "learning_rate": self.learning_rate,
            "regularization": self.regularization,
            "approx": self.approx,
            "schedule": self.schedule.config(),
        }

    def init(self, theta: NDArray[np.float64]) -> OptimizerState:  # noqa: D102 - see Optimizer
        return {"step": 0}

    def ask(self, state: OptimizerState) -> Request:  # noqa: D102 - see Optimizer
        return Request(metric_tensor=self.approx)

    def update(  # noqa: D102 - see Optimizer
        self, state: OptimizerState, theta: NDArray[np.float64], observation: Observation
    ) -> Update:
        if observation.metric is None:
            raise ConfigError("QNG needs the metric tensor in its observation (ask() requests it)")
        k = int(state["step"])
        rate = self.learning_rate * self.schedule(k)
        metric = observation.metric + self.regularization * np.eye(theta.size)
        # lstsq, not solve: with λ = 0 a redundant parameter makes the metric singular.
        direction = np.linalg.lstsq(metric, observation.gradient, rcond=None)[0]
        return Update(theta - rate * direction, {"step": k + 1}, rate)
