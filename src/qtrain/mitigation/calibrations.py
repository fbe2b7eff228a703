"""The readout calibrations of one mitigated backend: measured once, kept, refreshed, priced.

Kept per ``(n_qubits, exact)``: re-measured when older than ``max_age_s`` or after the backend
named a new calibration id (:meth:`Calibrations.forget`). Measuring holds a lock, so threads of
one executor never measure the same calibration twice; the executor asks for all of a call's
calibrations before it spreads the call over threads or Dask workers (``Mitigated.prepare``),
so workers receive them with the backend. A calibration result that is missing or impossible
(a value outside ``[−1, 1]``, a negative variance) is a transient failure: the executor's
retry measures again.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from qtrain.backends.protocol import Backend, Result, Task
from qtrain.errors import MitigationError, TransientExecutionError
from qtrain.mitigation.correlated import ConfusionMatrix, correlated_tasks
from qtrain.mitigation.readout import (
    ReadoutCalibration,
    ReadoutMitigation,
    calibration_from,
    calibration_tasks,
)

__all__ = ["Calibrations", "Measured"]

Measured = ReadoutCalibration | ConfusionMatrix
Key = tuple[int, bool]


class Calibrations:
    """Measured readout calibrations for one :class:`ReadoutMitigation`, by ``(n, exact)``."""

    def __init__(self, readout: ReadoutMitigation) -> None:
        self.readout = readout
        self.kept: dict[Key, Measured] = {}
        self.spent = 0  # shots of every calibration measured so far
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_lock"]  # a lock does not pickle (Dask workers get a copy)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def fresh(self, key: Key) -> Measured | None:
        """The kept calibration for ``key`` unless it is missing or too old."""
        kept = self.kept.get(key)
        age = self.readout.max_age_s
        if kept is None or (age is not None and kept.age_s() > age):
            return None
        return kept

    def get(self, inner: Backend, n_qubits: int, exact: bool) -> Measured:
        """The calibration for ``n_qubits`` wires, measured on ``inner`` if not fresh.

        Raises:
            MitigationError: the backend cannot take the calibration's shots.
            TransientExecutionError: a calibration result is missing or impossible.
        """
        key = (n_qubits, exact)
        with self._lock:
            kept = self.fresh(key)
            if kept is not None:
                return kept
            measured = self._measure(inner, n_qubits, exact)
            self.kept[key] = measured
            self.spent += measured.shots
            return measured

    def _measure(self, inner: Backend, n_qubits: int, exact: bool) -> Measured:
        readout = self.readout
        shots = None if exact else readout.shots
        if shots is not None and inner.limits.max_shots < shots:
            raise MitigationError(
                f"readout calibration needs {shots} shots per circuit on backend "
                f"{inner.name!r}, which takes at most {inner.limits.max_shots}: give "
                "ReadoutMitigation(calibration=...) or fewer shots"
            )
        seed = None if exact else (readout.seed if readout.seed is not None else 0)
        made = correlated_tasks if readout.correlated else calibration_tasks
        tasks = made(n_qubits, shots, seed)
        results = list(inner.run(tasks))
        done = [r for r, t in zip(results, tasks, strict=True) if r is not None and _possible(t, r)]
        if len(done) < len(tasks):
            raise TransientExecutionError(
                f"readout calibration: {len(tasks) - len(done)} of {len(tasks)} calibration "
                "results missing or impossible"
            )
        if readout.correlated:
            return ConfusionMatrix.from_results(done, n_qubits, shots)
        return calibration_from(done, n_qubits, shots)

    def forget(self, key: Key) -> None:
        """Drop the calibration of ``key`` (the backend recalibrated): measured again next."""
        with self._lock:
            self.kept.pop(key, None)

    def pending(self, tasks: Sequence[Task]) -> tuple[int, int]:
        """Circuits and shots of the calibrations ``tasks`` would measure now."""
        readout = self.readout
        keys = {(t.circuit.n_qubits, t.shots is None) for t in tasks}
        circuits = shots = 0
        for n, exact in keys:
            if self.fresh((n, exact)) is not None:
                continue
            # tensored: |0…0⟩ and |1…1⟩, each Z_w its own group; correlated: 2ⁿ, one group
            count, groups = ((1 << n), 1) if readout.correlated else (2, n)
            circuits += count
            shots += 0 if exact else count * groups * readout.shots
        return circuits, shots


def _possible(task: Task, result: Result) -> bool:
    """Whether a calibration result can be used: Z-word values in range, sane variances."""
    values = np.asarray(result.values)
    reach = np.array([sum(abs(c) for _, c in obs.terms) for obs in task.observables])
    if values.shape != (1, len(task.observables)) or not np.all(np.abs(values) <= reach + 1e-9):
        return False
    if task.shots is None:
        return True
    variances = result.variances
    return variances is not None and bool(np.all(np.asarray(variances) >= 0))
