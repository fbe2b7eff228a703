"""SPSA: simultaneous-perturbation stochastic approximation with Spall's gain sequences.

Spall, IEEE Trans. Autom. Control 37, 332 (1992); gains from Spall, IEEE Trans. Aerosp.
Electron. Syst. 34, 817 (1998): ``a_k = a / (A + k + 1)^α`` and ``c_k = c / (k + 1)^γ`` with
the asymptotically optimal ``α = 0.602``, ``γ = 0.101``. Each step asks the gradient engine for
``method="spsa"`` with perturbation ``c_k`` (two rows per direction, whatever the number of
parameters) and steps ``θ ← θ − a_k·ĝ``.

Calibration (``learning_rate=None``): ``a`` is set from the first gradient so that the first
step moves each parameter by about ``target_magnitude`` (as Qiskit's ``SPSA.calibrate``, but
from the first step's own estimate instead of extra evaluations):
``a = target · (A + 1)^α / mean_k |ĝ_k|``.

>>> import numpy as np
>>> opt = SPSA(learning_rate=None, target_magnitude=0.1)
>>> state = opt.init(np.zeros(2))
>>> opt.ask(state).method, round(opt.ask(state).options["step"], 3)
('spsa', 0.2)
>>> step = opt.update(state, np.zeros(2), Observation(0.0, np.array([2.0, -2.0])))
>>> np.round(step.theta, 12).tolist()
[-0.1, 0.1]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ConfigError
from qtrain.optim.base import Observation, OptimizerState, Request, Update, check_positive

__all__ = ["SPSA"]


@dataclass(frozen=True)
class SPSA:
    """SPSA with gain schedules and optional calibration.

    Attributes:
        learning_rate: ``a``; ``None`` calibrates it from the first gradient.
        perturbation: ``c``, the initial perturbation size.
        alpha: decay exponent of ``a_k``.
        gamma: decay exponent of ``c_k``.
        stability: ``A``, the stability constant (Spall suggests ~10 % of the planned steps).
        directions: random directions averaged per step (resamplings).
        target_magnitude: first-step size per parameter when calibrating.
    """

    learning_rate: float | None = None
    perturbation: float = 0.2
    alpha: float = 0.602
    gamma: float = 0.101
    stability: float = 0.0
    directions: int = 1
    target_magnitude: float = 2 * math.pi / 10
    name: str = field(default="spsa", init=False)

    def __post_init__(self) -> None:
        if self.learning_rate is not None:
            check_positive(self.learning_rate, "learning_rate")
        check_positive(self.perturbation, "perturbation")
        check_positive(self.alpha, "alpha")
        check_positive(self.gamma, "gamma", allow_zero=True)
        check_positive(self.stability, "stability", allow_zero=True)
        check_positive(self.target_magnitude, "target_magnitude")
        count = self.directions
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(f"directions must be a positive int, got {count!r}")

    def config(self) -> dict[str, Any]:  # noqa: D102 - see Optimizer
        return {
            "name": self.name,
            "learning_rate": self.learning_rate,
            "perturbation": self.perturbation,
            "alpha": self.alpha,
            "gamma": self.gamma,
            "stability": self.stability,
            "directions": self.directions,
            "target_magnitude": self.target_magnitude,
        }

    def init(self, theta: NDArray[np.float64]) -> OptimizerState:  # noqa: D102 - see Optimizer
        return {"step": 0, "a": self.learning_rate}

    def ask(self, state: OptimizerState) -> Request:  # noqa: D102 - see Optimizer
        c_k = self.perturbation / (int(state["step"]) + 1) ** self.gamma
        return Request(method="spsa", options={"step": c_k, "directions": self.directions})

    def update(  # noqa: D102 - see Optimizer
        self, state: OptimizerState, theta: NDArray[np.float64], observation: Observation
    ) -> Update:
        k = int(state["step"])
        a = state["a"]
        if a is None:
            magnitude = float(np.mean(np.abs(observation.gradient)))
            scale = (self.stability + 1) ** self.alpha
            a = self.target_magnitude * scale / magnitude if magnitude > 0 else 1.0
        rate = float(a) / (self.stability + k + 1) ** self.alpha
        return Update(theta - rate * observation.gradient, {"step": k + 1, "a": float(a)}, rate)
