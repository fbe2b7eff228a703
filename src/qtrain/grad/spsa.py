"""SPSA gradient estimates: ``n`` random ±1 directions, two rows each, one batched task.

Spall, IEEE Trans. Autom. Control 37, 332 (1992). For a Rademacher direction ``Δ``,
``ĝ = (f(θ + cΔ) − f(θ − cΔ)) / 2c · Δ`` is unbiased up to O(c²). The estimate averages
``n`` directions; its standard error is the spread of the per-direction estimates over
``√n`` (so it includes both the direction randomness and any shot noise), reported when
``n ≥ 2``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Result, Task
from qtrain.errors import GradientError
from qtrain.grad.result import Assemble, Gradient
from qtrain.grad.shots import ShotPolicy, allocate, group_spreads
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable

__all__ = ["plan"]


def plan(
    circuit: Circuit,
    observables: tuple[Observable, ...],
    theta: NDArray[np.float64],
    *,
    directions: int = 1,
    step: float = 0.01,
    rng: np.random.Generator,
    policy: ShotPolicy | None = None,
    seed: int | None = None,
) -> tuple[list[Task], Assemble]:
    """Tasks and assembly for an SPSA Jacobian estimate ``(O, P)`` at ``theta (P,)``."""
    if isinstance(directions, bool) or not isinstance(directions, int) or directions < 1:
        raise GradientError(f"directions must be a positive int, got {directions!r}")
    if not np.isfinite(step) or step <= 0:
        raise GradientError(f"SPSA step must be a positive number, got {step!r}")
    deltas = rng.choice([-1.0, 1.0], size=(directions, theta.size))
    rows = np.vstack([theta + step * deltas, theta - step * deltas])
    shots = None
    if policy is not None:
        per_direction = deltas / (2 * step * directions)
        weights = np.vstack([per_direction, -per_direction])
        shots = allocate(
            policy,
            np.linalg.norm(weights, axis=1),
            group_spreads(observables),
            gradient_weights=weights,
        )
    task = Task(circuit, observables, rows, shots, seed)

    def assemble(results: list[Result]) -> Gradient:
        (result,) = results
        plus, minus = result.values[:directions], result.values[directions:]
        # per[j, o, k]: the estimate from direction j alone.
        per = ((plus - minus) / (2 * step))[:, :, None] * deltas[:, None, :]
        stderr = per.std(axis=0, ddof=1) / np.sqrt(directions) if directions > 1 else None
        meta = {"directions": deltas, "step": step, "shot_matrix": shots}
        return Gradient(
            per.mean(axis=0), stderr, rows.shape[0], result.shots, "spsa", None, None, None, meta
        )

    return [task], assemble
