"""The gradient monitor inside ``qt.fit``: raised shots, frozen layers, recorded decisions.

:class:`MonitorHook` applies a :class:`~qtrain.diagnostics.monitor.GradientMonitor`'s state to
a step — the shot policy scaled by the ``raise_shots`` factor, the gradient and update of
frozen (``layerwise``) parameters masked — and feeds it the step's gradient. The decision
goes into ``StepRecord.monitor`` (so into ``metrics.jsonl``) and the new state into the
checkpoint. A raised shot policy never breaks ``Budget.max_shots``: when the raised step
would not fit what is left, the factor falls (halving, or to the share that fits) until it
does or reaches 1, and the record says which factor was used.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from qtrain.diagnostics.monitor import GradientMonitor, PlateauWarning
from qtrain.errors import ConfigError
from qtrain.grad.shots import ShotPolicy
from qtrain.optim.base import Observation

__all__ = ["MonitorHook", "scaled_policy"]

Planned = TypeVar("Planned")


def scaled_policy(policy: ShotPolicy | None, factor: float) -> ShotPolicy | None:
    """``policy`` with ``factor`` times the shots (a target standard error ÷ √factor)."""
    if policy is None or factor == 1.0:
        return policy
    if policy.per_row is not None:
        return ShotPolicy.fixed(max(2, round(policy.per_row * factor)))
    if policy.per_component is not None:
        return ShotPolicy.components([max(2, round(s * factor)) for s in policy.per_component])
    if policy.per_cell is not None:
        cells = np.array(policy.per_cell, dtype=np.float64)
        return ShotPolicy.cells(np.maximum(np.rint(cells * factor), 2).astype(np.int64))
    budget = None if policy.budget is None else round(policy.budget * factor)
    if policy.target_stderr is not None:
        return ShotPolicy.target(policy.target_stderr / math.sqrt(factor), budget=budget)
    assert budget is not None  # one mode is set (checked at construction)
    return ShotPolicy.total(budget)


class MonitorHook:
    """One run's monitor (or none): what it changes in a step, and what it decided.

    Args:
        monitor: the monitor, or ``None`` (every method is then a no-op).
        n_params: ``P``.
        state: the monitor state from ``RunState`` (fresh or from a checkpoint).
        sampled: whether the run's gradients have shots (``raise_shots`` needs them).

    Raises:
        ConfigError: ``raise_shots`` on exact gradients, or a state from another monitor.
    """

    def __init__(
        self,
        monitor: GradientMonitor | None,
        n_params: int,
        state: dict[str, Any] | None,
        *,
        sampled: bool,
    ) -> None:
        if monitor is not None and monitor.policy == "raise_shots" and not sampled:
            raise ConfigError(
                "monitor policy 'raise_shots' needs sampled gradients (shots=...); exact "
                "gradients have no shots to raise"
            )
        if monitor is not None and state is None:
            raise ConfigError("the checkpoint holds no monitor state for this run's monitor")
        self.monitor, self.n_params = monitor, n_params
        self.state = state
        self.used_factor = 1.0

    @property
    def factor(self) -> float:
        """The ``raise_shots`` multiplier in force (1 without a monitor)."""
        return 1.0 if self.state is None else float(self.state["factor"])

    def affordable(
        self,
        plan: Callable[[float], tuple[Planned, int]],
        refuses: Callable[[Planned, int], str | None],
        remaining: int | None,
    ) -> tuple[Planned, str | None]:
        """Plan the step at the current factor, lowering it while the shot or money budget refuses.

        ``plan(factor)`` returns the planned step and its shot cost; ``refuses(planned, cost)``
        the budget's refusal (or ``None``); ``remaining`` is what is left of ``max_shots``.
        Returns the plan and the final refusal.
        """
        factor = self.factor
        planned, cost = plan(factor)
        refusal = refuses(planned, cost)
        while refusal in ("max_shots", "max_cost") and factor > 1.0:
            fits = factor / 2  # money: halve until it fits
            if refusal == "max_shots" and remaining is not None:
                fits = factor * remaining / max(cost, 1)
            factor = max(1.0, min(factor / 2, fits))
            planned, cost = plan(factor)
            refusal = refuses(planned, cost)
        self.used_factor = factor
        return planned, refusal

    def mask(self) -> NDArray[np.bool_] | None:
        """``(P,)`` the parameters that train this step (``None``: all)."""
        if self.monitor is None or self.state is None:
            return None
        return self.monitor.active(self.state, self.n_params)

    def observation(self, observation: Observation) -> Observation:
        """The optimizer's view: frozen components' gradients are zero."""
        mask = self.mask()
        if mask is None:
            return observation
        return replace(observation, gradient=np.where(mask, observation.gradient, 0.0))

    def frozen(
        self, before: NDArray[np.float64], after: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """The update with frozen parameters kept exactly where they were."""
        mask = self.mask()
        return after if mask is None else np.where(mask, after, before)

    def observe(
        self, gradient: NDArray[np.float64], stderr: NDArray[np.float64] | None, step: int
    ) -> dict[str, Any] | None:
        """Feed the step's gradient; the record for ``StepRecord.monitor`` (warns if told to)."""
        if self.monitor is None or self.state is None:
            return None
        self.state, record = self.monitor.observe(self.state, gradient, stderr)
        record["shot_factor_used"] = self.used_factor
        if record["action"] == "warn":
            warnings.warn(
                PlateauWarning(
                    f"step {step}: the gradient's SNR over the last {self.monitor.window} steps "
                    f"is {record['snr_window']:.3g} < {self.monitor.threshold:g}: the signal is "
                    "lost in shot noise (barren plateau or converged)"
                ),
                stacklevel=2,
            )
        return record
