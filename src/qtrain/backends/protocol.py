"""The backend protocol: a backend runs tasks and returns one result per task.

A :class:`Task` is one circuit, one or more observables and a block of parameter rows
``(B, P)``, with shots (``None`` = exact) and a seed. A :class:`Result` carries one value per
row and observable ``(B, O)``, the estimated variance of each when sampled, the shots
actually spent and metadata. The execution layer (dedup, retries, durable store) is built on
this protocol alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ShotsError
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable

__all__ = ["Backend", "BackendLimits", "Result", "Task"]


@dataclass(frozen=True)
class BackendLimits:
    """What one backend call accepts; the executor chunks work to fit.

    Attributes:
        max_rows: parameter rows per task.
        max_shots: shots per (row, group).
        max_qubits: register size (``None``: limited by memory only).
    """

    max_rows: int = 1 << 30
    max_shots: int = 1 << 62
    max_qubits: int | None = None


@dataclass(frozen=True, eq=False)
class Task:
    """One unit of work for a backend.

    Attributes:
        circuit: the circuit; its parameters are the columns of ``params``.
        observables: the Pauli sums to measure on every row (``O`` of them).
        params: ``(B, P)`` parameter rows, already validated.
        shots: ``None`` for exact values; else shots per (row, measurement group): an int for
            all, ``(B,)`` per row, or ``(B, G)`` per row and group, where the ``G`` groups are
            those of every observable in order (``observable.groups()``).
        seed: sampling entropy (a non-negative int); ignored when ``shots`` is ``None``.
    """

    circuit: Circuit
    observables: tuple[Observable, ...]
    params: NDArray[np.float64]
    shots: int | NDArray[np.int64] | None = None
    seed: int | None = None

    @property
    def n_groups(self) -> int:
        """``G``: measurement groups over all observables."""
        return sum(len(obs.groups()) for obs in self.observables)

    def shot_matrix(self) -> NDArray[np.int64] | None:
        """Shots as a ``(B, G)`` integer array (``None`` when exact).

        Raises:
            ShotsError: a shape that does not broadcast to ``(B, G)`` or a count below 1.
        """
        if self.shots is None:
            return None
        rows, groups = self.params.shape[0], self.n_groups
        raw = np.asarray(self.shots)
        if raw.ndim == 1:
            raw = raw[:, None]
        try:
            matrix = np.broadcast_to(raw, (rows, groups)).astype(np.int64)
        except ValueError:
            raise ShotsError(
                f"shots of shape {np.shape(self.shots)} do not fit {rows} rows × {groups} groups"
            ) from None
        if matrix.size and matrix.min() < 1:
            raise ShotsError(f"every (row, group) needs at least 1 shot, got {matrix.min()}")
        return matrix


@dataclass(frozen=True, eq=False)
class Result:
    """What a backend returns for one task.

    Attributes:
        values: ``(B, O)`` expectation values (exact or estimated).
        variances: ``(B, O)`` estimated variance of each value; ``None`` when exact.
        shots: total shots spent on the task.
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

    @property
    def limits(self) -> BackendLimits:
        """What one call accepts."""
        ...

    def run(self, tasks: Sequence[Task]) -> Sequence[Result | None]:
        """Run every task; one result per task, in order.

        ``None`` in place of a result means that task's result is missing (a partial result);
        the executor resubmits it.
        """
        ...
