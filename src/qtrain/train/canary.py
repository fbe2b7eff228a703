"""Canaries: a short circuit with a known reference value, run between training steps.

A :class:`Canary` is a circuit, one observable, fixed parameters ``(P,)`` and optionally a
reference value. The default (:meth:`Canary.from_objective`) is the run's own first circuit
and observable at fixed parameters: of 16 points drawn uniformly in ``[0, 2π)`` from a seed,
the one whose exact value is nearest the middle of the observable's spectrum. It uses the
very gates, wires and measurement groups of the training (so it drifts as they do), and its
value sits inside the spectrum, where shot noise is well estimated and a bias in either
direction shows (a mirror circuit ``U U†`` sits at an eigenvalue, where a sampled estimate
has zero variance and a bias past it is clipped; ``docs/decisions.md``).

A reading is ``(value, stderr)``: the sampled estimate and its standard error
(``√variance`` of the estimate), floored at ``1/N`` for ``N`` shots per group (a reading
whose shots all agreed has an estimated variance of 0, not a true one).

>>> import qtrain as qt
>>> canary = Canary(qt.ansatz.hardware_efficient(2, 1), qt.Z(0), [0.1, 0.2, 0.3, 0.4])
>>> round(canary.exact_value(), 6)
0.995004
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.local import LocalSimulator
from qtrain.backends.protocol import Backend, Result, Task, child_seed
from qtrain.errors import ConfigError
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.ir.validate import check_observable_fits
from qtrain.train.objective import Objective

__all__ = ["Canary", "is_ideal", "reading"]


@dataclass(frozen=True, eq=False)
class Canary:
    """A short circuit with a known value (module docstring).

    Attributes:
        circuit: the canary circuit.
        observable: what it measures.
        params: ``(P,)`` its fixed parameters, ``P = circuit.n_params``.
        reference: the value it should read (``None``: the exact value on an ideal backend,
            a baseline measured on the backend itself otherwise).
    """

    circuit: Circuit
    observable: Observable
    params: NDArray[np.float64] | Sequence[float]
    reference: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.circuit, Circuit):
            raise ConfigError(f"a canary needs a qtrain Circuit, got {type(self.circuit).__name__}")
        if not isinstance(self.observable, Observable):
            raise ConfigError(f"a canary needs an Observable, got {type(self.observable).__name__}")
        observable = check_observable_fits(self.circuit, self.observable)
        try:
            params = np.asarray(self.params, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ConfigError(f"canary params must be numbers, got {self.params!r}") from None
        if params.size != self.circuit.n_params or not np.all(np.isfinite(params)):
            raise ConfigError(
                f"canary params must be {self.circuit.n_params} finite numbers, got "
                f"{params.size}: {self.params!r}"
            )
        if self.reference is not None and (
            not isinstance(self.reference, int | float) or not math.isfinite(self.reference)
        ):
            raise ConfigError(f"canary reference must be a finite number, got {self.reference!r}")
        object.__setattr__(self, "observable", observable)
        object.__setattr__(self, "params", params)

    @staticmethod
    def from_objective(objective: Objective, seed: int, *, candidates: int = 16) -> Canary:
        """The objective's first circuit and observable at a seeded point mid-spectrum.

        Of ``candidates`` points uniform in ``[0, 2π)`` (one exact simulator call), the one
        whose value is nearest the spectrum's middle ``c₀`` (the identity coefficient).
        """
        circuit, observable = objective.circuits[0], objective.observables[0]
        rng = np.random.default_rng(child_seed(seed, 0x19))
        points = rng.uniform(0.0, 2.0 * math.pi, (candidates, circuit.n_params))
        result = LocalSimulator().run([Task(circuit, (observable,), points)])[0]
        assert result is not None  # exact local values always come back
        middle = observable.identity_coefficient.real
        best = int(np.argmin(np.abs(result.values[:, 0] - middle)))
        return Canary(circuit, observable, points[best])

    def task(self, shots: int, seed: int) -> Task:
        """One sampled row of the canary: ``shots`` per measurement group, seeded."""
        params = np.asarray(self.params, dtype=np.float64)[None, :]
        return Task(self.circuit, (self.observable,), params, shots=shots, seed=seed)

    def exact_value(self) -> float:
        """The canary's value on the ideal statevector simulator."""
        params = np.asarray(self.params, dtype=np.float64)[None, :]
        result = LocalSimulator().run([Task(self.circuit, (self.observable,), params)])[0]
        assert result is not None  # exact local values always come back
        return float(result.values[0, 0])


def reading(result: Result, shots: int) -> tuple[float, float]:
    """``(value, stderr)`` of a one-row canary result, the stderr floored at ``1/shots``.

    Raises:
        ConfigError: the result holds no variance (an exact backend: nothing to standardise).
    """
    if result.variances is None:
        raise ConfigError("a canary needs sampled results with variances; give it shots")
    value = float(result.values[0, 0])
    stderr = math.sqrt(max(float(result.variances[0, 0]), 0.0))
    return value, max(stderr, 1.0 / shots)


def is_ideal(backend: Backend) -> bool:
    """The backend (through wrappers' ``inner``) ends in the ideal statevector simulator.

    Only there is the exact value the right reference; on anything else (noise, hardware,
    mitigation) the canary is baselined on the backend itself.
    """
    current: object = backend
    while True:
        if isinstance(current, LocalSimulator):
            return current.is_ideal
        if type(current).__name__ == "Mitigated":
            return False
        inner = getattr(current, "inner", None)
        if inner is None:
            return False
        current = inner
