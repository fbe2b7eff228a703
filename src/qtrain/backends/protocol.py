"""The backend protocol: a backend runs tasks and returns one result per task.

A :class:`Task` is one circuit, one observable and a block of parameter rows ``(B, P)``, with a
shot count (``None`` = exact) and a seed. A :class:`Result` carries one value per row, the
estimated variance of each value when sampled, the shots actually spent and metadata. The
execution layer (dedup, retries, durable store) is built on this protocol alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable

__all__ = ["Backend", "Result", "Task"]


@dataclass(frozen=True, eq=False)
class Task:
    """One unit of work for a backend.

    Attributes:
        circuit: the circuit; its parameters are the columns of ``params``.
        observable: the Pauli sum to measure.
        params: ``(B, P)`` parameter rows, already validated.
        shots: samples per measurement group and row; ``None`` for exact values.
        seed: sampling entropy (a non-negative int); ignored when ``shots`` is ``None``.
    """

    circuit: Circuit
    observable: Observable
    params: NDArray[np.float64]
    shots: int | None = None
    seed: int | None = None


@dataclass(frozen=True, eq=False)
class Result:
    """What a backend returns for one task.

    Attributes:
        values: ``(B,)`` expectation values (exact or estimated).
        variances: ``(B,)`` estimated variance of each value; ``None`` when exact.
        shots: total shots spent on the task (rows × groups × shots per group).
        metadata: backend name, timings and anything else worth recording.
    """

    values: NDArray[np.float64]
    variances: NDArray[np.float64] | None
    shots: int
    metadata: Mapping[str, object] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """Anything that runs tasks: the local simulator, a remote device, a fault injector."""

    @property
    def name(self) -> str:
        """A short name recorded in results and metrics."""
        ...

    def run(self, tasks: Sequence[Task]) -> list[Result]:
        """Run every task; one result per task, in order."""
        ...
