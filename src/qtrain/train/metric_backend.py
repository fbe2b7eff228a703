"""The metric tensor of an objective (QNG): where and whether it can be computed.

It is exact, on the local simulator (the run's own, or the one inside its backend), and for
single-circuit objectives only; a circuit too large for the simulator's memory is refused when
the step is planned, before any of its tasks run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.local import LocalSimulator
from qtrain.backends.protocol import Backend
from qtrain.errors import ConfigError
from qtrain.grad.api import metric_tensor
from qtrain.grad.metric_tensor import check_approx, check_memory, local_simulator
from qtrain.ir.circuit import Circuit

__all__ = ["metric_fn"]

Vector = NDArray[np.float64]


def metric_fn(
    circuits: Sequence[Circuit], point: Vector, approx: str | None, backend: Backend | None
) -> Callable[[], Vector] | None:
    """The metric tensor at ``point`` as a thunk, or ``None`` when ``approx`` is ``None``.

    Args:
        circuits: the objective's distinct circuits (one is required).
        point: ``(P,)`` parameters.
        approx: ``"full"``, ``"block-diag"`` or ``None``.
        backend: the run's backend (``None``: a fresh local simulator).

    Raises:
        ConfigError: several circuits, or a backend with no local simulator inside.
        StateTooLargeError: the circuit is too large for the simulator.
    """
    if approx is None:
        return None
    if len(circuits) != 1:
        raise ConfigError(
            f"the metric tensor (QNG) needs a single-circuit objective, got "
            f"{len(circuits)} circuits"
        )
    simulator = LocalSimulator() if backend is None else local_simulator(backend)
    if simulator is None:
        raise ConfigError(
            f"the metric tensor (QNG) is computed exactly on the local simulator; the "
            f"backend is {type(backend).__name__}, with no LocalSimulator inside"
        )
    circuit, kind = circuits[0], check_approx(approx)
    check_memory(circuit, simulator)  # refuse now, before the step's tasks run
    row = point[: circuit.n_params]
    return lambda: metric_tensor(circuit, row, approx=kind, backend=simulator)
