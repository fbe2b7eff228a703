"""The exact loss a run reports at its final parameters, where a simulator can give one."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.local import LocalSimulator, simulator_inside
from qtrain.backends.protocol import Backend
from qtrain.errors import QtrainError
from qtrain.train.objective import Objective

__all__ = ["final_exact_loss"]


def final_exact_loss(
    objective: Objective, theta: NDArray[np.float64], backend: Backend
) -> float | None:
    """The exact loss at ``theta`` on the simulator inside ``backend``; ``None`` without one.

    ``None`` too where the simulator has no exact values for some circuit (trajectories only).
    """
    simulator = simulator_inside(backend)
    if simulator is None or not _exact_possible(simulator, objective):
        return None
    return objective.exact_loss(theta, _exact_backend(backend, simulator))


def _exact_backend(backend: object, simulator: LocalSimulator) -> Backend:
    """Where the run's final exact loss is computed: ``simulator``, the one inside ``backend``.

    A wrapper whose values are not its inner backend's (``Mitigated``: ``transforms_values``
    and ``rewrapped``) is kept, around ``simulator`` itself — so a mitigated run reports a
    mitigated loss, and faults injected between them (``FaultyBackend``) cannot end the run
    at its finish, outside the executor's retries.
    """
    for _ in range(8):  # wrappers nest a few deep at most
        if getattr(backend, "transforms_values", False) and hasattr(backend, "rewrapped"):
            wrapped: Backend = backend.rewrapped(simulator)
            return wrapped
        backend = getattr(backend, "inner", None)
        if backend is None:
            break
    return simulator


def _exact_possible(simulator: LocalSimulator, objective: Objective) -> bool:
    """Whether ``simulator`` computes exact values for every circuit (not trajectories only)."""
    try:
        for circuit in objective.circuits:
            simulator.choose(circuit, exact=True)
    except QtrainError:
        return False
    return True
