"""``qt.expval``: the exact or sampled expectation value of an observable.

>>> import numpy as np
>>> import qtrain as qt
>>> c = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1)
>>> round(qt.expval(c, qt.Z(0) @ qt.Z(1), np.array([0.3])), 12)
1.0
>>> est = qt.expval(c, qt.Z(1), np.array([0.3]), shots=1000, seed=7)
>>> est.shots, bool(abs(est.value - np.cos(0.3)) < 5 * est.stderr)
(1000, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Backend, Task, fresh_seed
from qtrain.display import vector
from qtrain.errors import CircuitError, ParameterValueError
from qtrain.exec.executor import Executor, resolve_executor
from qtrain.exec.store import ResultStore
from qtrain.ir.circuit import Circuit
from qtrain.ir.validate import check_observable_fits, check_shots, check_theta

__all__ = ["Estimate", "expval", "resolve_seed"]


@dataclass(frozen=True)
class Estimate:
    """A sampled expectation value with its standard error.

    Attributes:
        value: the estimate; a float, or ``(B,)`` for batched parameters.
        stderr: its standard error (the square root of the estimated sampling variance,
            summed over independently measured commuting groups); same shape as ``value``.
        shots: total shots spent for the whole call (rows × groups × shots per group).
        seed: the sampling seed used (drawn fresh when none was given; passing it back
            reproduces the numbers).
    """

    value: Any
    stderr: Any
    shots: int
    seed: int | None = None

    def __repr__(self) -> str:
        """Plain numbers: ``Estimate(value=0.5, stderr=0.1005, shots=200, seed=1)``."""
        return (
            f"Estimate(value={vector(self.value)}, stderr={vector(self.stderr)}, "
            f"shots={self.shots}, seed={self.seed})"
        )


def resolve_seed(seed: int | np.random.Generator | None) -> int:
    """A non-negative int seed from an int, a Generator (one draw) or ``None`` (fresh entropy)."""
    if seed is None:
        return fresh_seed()
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 1 << 63))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterValueError(f"seed must be a non-negative int or a Generator, got {seed!r}")
    return int(seed)


def expval(
    circuit: Circuit,
    observable: object,
    theta: object = None,
    *,
    shots: int | None = None,
    seed: int | np.random.Generator | None = None,
    backend: Backend | None = None,
    executor: Executor | None = None,
    store: ResultStore | None = None,
) -> float | NDArray[np.float64] | Estimate:
    """Expectation value ``⟨ψ(θ)|H|ψ(θ)⟩``.

    Args:
        circuit: the circuit preparing ``|ψ(θ)⟩`` from ``|0…0⟩``.
        observable: a Hermitian Pauli sum on the circuit's wires.
        theta: ``(P,)`` parameters, or ``(B, P)`` rows evaluated in one batched call.
        shots: ``None`` for the exact value; else samples per commuting group and row.
        seed: makes sampling reproducible (same seed, same numbers); ``None`` draws fresh
            entropy, recorded in the :class:`Estimate`.
        backend: where to run; default a new ``LocalSimulator()``.
        executor: an :class:`~qtrain.exec.executor.Executor` (dedup, retries, store)
            instead of ``backend``; by default one is made around ``backend``.
        store: a :class:`~qtrain.exec.store.ResultStore` for the default executor.

    Returns:
        Exact: a float, or ``(B,)`` values. With shots: an :class:`Estimate`.

    Raises:
        QtrainError: a subclass for a bad observable, shots, theta or an oversized state, all
            before any simulation starts.
    """
    if not isinstance(circuit, Circuit):
        raise CircuitError(f"expected a qtrain Circuit, got {type(circuit).__name__}")
    checked_observable = check_observable_fits(circuit, observable)
    checked_shots = check_shots(shots)
    rows, batched = check_theta(circuit, theta)
    entropy = resolve_seed(seed) if checked_shots is not None else None
    runner = resolve_executor(backend, executor, store)
    task = Task(circuit, (checked_observable,), rows, checked_shots, entropy)
    result = runner.run([task])[0]
    column = result.values[:, 0]
    values = column if batched else float(column[0])
    if result.variances is None:
        return values
    stderr = np.sqrt(result.variances[:, 0])
    return Estimate(values, stderr if batched else float(stderr[0]), result.shots, entropy)
