"""Shot-adaptive gradient descent: iCANS shot allocation, as used by Rosalin.

Kübler, Arrasmith, Cincio, Coles, Quantum 4, 263 (2020) (iCANS); Arrasmith, Cincio, Somma,
Coles, arXiv:2004.06252 (2020) (Rosalin = iCANS + sampling of Hamiltonian terms). Each step
measures component ``k`` of the gradient with ``s_k`` shots per row and measurement group,
steps ``θ ← θ − α·g``, and chooses the next ``s_k`` to maximise the expected gain per shot:

    χ ← μχ + (1−μ)g,  ξ ← μξ + (1−μ)S,   χ̂, ξ̂ bias-corrected by 1/(1 − μ^{t})
    s_k = ⌈ 2Lα/(2 − Lα) · ξ̂_k / (χ̂_k² + b·μ^t) ⌉,  clipped to [s_min, s at argmax γ]
    γ_k = ((α − Lα²/2)·χ̂_k² − Lα²/(2 s_k)·ξ̂_k) / s_k

where ``S_k = s_k · stderr_k²`` is the single-shot variance of component ``k`` and ``L`` a
Lipschitz constant of the gradient (for ``⟨H⟩``, ``L ≤ Σ|c_j|``; the training loop fills it in
from the objective when not given). Rosalin's weighted random sampling of terms is replaced by
qtrain's deterministic split of each row's shots across commuting groups (same expectation,
no extra variance from the sampling of terms). Requires ``α < 2/L``.

>>> import numpy as np
>>> opt = Rosalin(learning_rate=0.1, lipschitz=1.0, initial_shots=10)
>>> state = opt.init(np.zeros(2))
>>> opt.ask(state).shots_per_component.tolist()
[10, 10]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ConfigError
from qtrain.optim.base import (
    Observation,
    OptimizerState,
    Request,
    Update,
    as_array,
    check_positive,
    check_unit_interval,
)

__all__ = ["Rosalin"]


def _count(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


@dataclass(frozen=True)
class Rosalin:
    """Shot-adaptive descent (iCANS1 shot rule).

    Attributes:
        learning_rate: ``α``; must be below ``2/L``.
        lipschitz: ``L``; ``None`` until the training loop sets it from the objective.
        initial_shots: shots per row and group of every component at the first step.
        min_shots: ``s_min``, the floor per row and group (≥ 2, so every component keeps an
            error bar).
        max_shots: optional hard cap per row and group.
        mu: ``μ``, the decay of the running averages.
        b: ``b``, the regulariser of ``χ̂²`` early on.
    """

    learning_rate: float = 0.07
    lipschitz: float | None = None
    initial_shots: int = 10
    min_shots: int = 2
    max_shots: int | None = None
    mu: float = 0.99
    b: float = 1e-6
    name: str = field(default="rosalin", init=False)

    def __post_init__(self) -> None:
        check_positive(self.learning_rate, "learning_rate")
        check_unit_interval(self.mu, "mu")
        check_positive(self.b, "b", allow_zero=True)
        _count(self.min_shots, "min_shots", 2)
        _count(self.initial_shots, "initial_shots", self.min_shots)
        if self.max_shots is not None:
            _count(self.max_shots, "max_shots", self.min_shots)
        if self.lipschitz is not None:
            check_positive(self.lipschitz, "lipschitz")
            if self.learning_rate * self.lipschitz >= 2:
                raise ConfigError(
                    f"Rosalin needs learning_rate < 2/L = {2 / self.lipschitz:.6g} "
                    f"(L = {self.lipschitz:.6g}), got {self.learning_rate!r}"
                )

    def config(self) -> dict[str, Any]:  # noqa: D102 - see Optimizer
        return {
            "name": self.name,
            "learning_rate": self.learning_rate,
            "lipschitz": self.lipschitz,
            "initial_shots": self.initial_shots,
            "min_shots": self.min_shots,
            "max_shots": self.max_shots,
            "mu": self.mu,
            "b": self.b,
        }

    def init(self, theta: NDArray[np.float64]) -> OptimizerState:  # noqa: D102 - see Optimizer
        size = int(np.size(theta))
        return {
            "step": 0,
            "chi": [0.0] * size,
            "xi": [0.0] * size,
            "shots": [self.initial_shots] * size,
        }

    def ask(self, state: OptimizerState) -> Request:  # noqa: D102 - see Optimizer
        return Request(shots_per_component=np.array(state["shots"], dtype=np.int64))

    def update(  # noqa: D102 - see Optimizer
        self, state: OptimizerState, theta: NDArray[np.float64], observation: Observation
    ) -> Update:
        if self.lipschitz is None:
            raise ConfigError("Rosalin needs lipschitz= (fit() sets it from the objective)")
        if observation.gradient_stderr is None or observation.shots_per_component is None:
            raise ConfigError("Rosalin needs sampled gradients with standard errors and shots")
        k, alpha, lip = int(state["step"]), self.learning_rate, self.lipschitz
        grad = observation.gradient
        single_shot_var = observation.gradient_stderr**2 * observation.shots_per_component
        chi = self.mu * as_array(state["chi"]) + (1 - self.mu) * grad
        xi = self.mu * as_array(state["xi"]) + (1 - self.mu) * single_shot_var
        correction = 1 - self.mu ** (k + 1)
        chi_hat, xi_hat = chi / correction, xi / correction
        ratio = xi_hat / (chi_hat**2 + self.b * self.mu**k)
        shots = np.ceil(2 * lip * alpha / (2 - lip * alpha) * ratio)
        shots = np.maximum(np.nan_to_num(shots, nan=self.min_shots, posinf=1e15), self.min_shots)
        gain = (alpha - lip * alpha**2 / 2) * chi_hat**2 - lip * alpha**2 / (2 * shots) * xi_hat
        gain /= shots  # expected gain per shot: the cap is the count of the best component
        cap = max(float(shots[int(np.argmax(gain))]), float(self.min_shots))
        if self.max_shots is not None:
            cap = min(cap, float(self.max_shots))
        chosen = np.clip(shots, self.min_shots, cap).astype(np.int64)
        new_state = {
            "step": k + 1,
            "chi": chi.tolist(),
            "xi": xi.tolist(),
            "shots": [int(s) for s in chosen],
        }
        return Update(theta - alpha * grad, new_state, alpha)
