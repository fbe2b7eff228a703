"""The :class:`Problem` value: circuits, observables, a loss, initial parameters, known answers.

A problem is ``T`` terms, each a circuit with its observable, sharing one parameter vector
``θ (P,)``. The training loop evaluates the ``(T,)`` term values ``v_i = ⟨O_i⟩(θ)`` and
combines them with the problem's loss; :meth:`Problem.report` turns the final values into
the problem's own summary numbers (energy error, approximation ratio, accuracy).

>>> from qtrain.ir.circuit import Circuit
>>> from qtrain.ir.observables import Z
>>> from qtrain.ir.params import P
>>> p = Problem("demo", "one qubit", (Circuit(1).ry(0, P(0)),), (Z(0),), np.zeros(1))
>>> p.n_terms, p.n_params, p.loss_value(np.array([0.25]))
(1, 1, 0.25)
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ConfigError
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable

__all__ = ["LOSSES", "Problem", "check_int", "check_seed"]

LOSSES = ("expval", "mean", "mse")
"""Loss names: ``expval`` (one term, loss = ⟨O⟩), ``mean`` (mean of the term values),
``mse`` (mean over terms of ``(v_i − targets_i)²``)."""


def check_int(value: object, name: str, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]``, or ConfigError naming ``name``.

    >>> check_int(3, "layers", 1)
    3
    """
    upper = f" and <= {maximum}" if maximum is not None else ""
    message = f"{name} must be an int >= {minimum}{upper}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(message)
    number = int(value)
    if number < minimum or (maximum is not None and number > maximum):
        raise ConfigError(message)
    return number


def check_seed(value: object) -> int:
    """A seed for ``numpy.random.default_rng``: an int >= 0, else ConfigError."""
    return check_int(value, "seed", 0)


def _float_vector(value: object, what: str, length: int | None = None) -> NDArray[np.float64]:
    """A read-only finite float64 copy of a 1-D array, or ConfigError naming ``what``."""
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what} must be a 1-D array of real numbers, got {value!r}") from exc
    if array.ndim != 1:
        raise ConfigError(f"{what} must be 1-D, got shape {array.shape}")
    if length is not None and array.shape[0] != length:
        raise ConfigError(f"{what} must have {length} entries, got {array.shape[0]}")
    if not np.all(np.isfinite(array)):
        raise ConfigError(f"{what} must be finite, got {array.tolist()}")
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Problem:
    """A training problem: ``T`` (circuit, observable) terms, a loss and ``θ₀``.

    Subclasses (one per built-in problem) only override :meth:`report`.

    Attributes:
        name: registry name (``"h2"``, ``"maxcut"``, ``"classifier"``).
        description: one line, for listings.
        circuits: one circuit per term; VQE and QAOA have exactly one.
        observables: one observable per circuit.
        theta0: ``(P,)`` initial parameters shared by all circuits (a read-only copy; every
            circuit has ``n_params == P``).
        loss: one of :data:`LOSSES`.
        targets: ``(T,)`` targets for ``"mse"``, else ``None``.
        exact_value: the exact minimum of the loss when known.
        metadata: JSON-ready facts about the instance (a copy of the mapping given).

    Raises:
        ConfigError: on mismatched lengths, parameter counts, loss or targets, or
            metadata that ``json.dumps`` rejects.
    """

    name: str
    description: str
    circuits: tuple[Circuit, ...]
    observables: tuple[Observable, ...]
    theta0: NDArray[np.float64]
    loss: str = "expval"
    targets: NDArray[np.float64] | None = None
    exact_value: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        circuits, observables = tuple(self.circuits), tuple(self.observables)
        if not circuits:
            raise ConfigError(f"problem {self.name!r} needs at least one circuit")
        if len(observables) != len(circuits):
            raise ConfigError(
                f"problem {self.name!r}: {len(circuits)} circuit(s) but "
                f"{len(observables)} observable(s); expected one observable per circuit"
            )
        theta0 = _float_vector(self.theta0, "theta0")
        for index, (circuit, observable) in enumerate(zip(circuits, observables, strict=True)):
            if not isinstance(circuit, Circuit) or not isinstance(observable, Observable):
                raise ConfigError(f"term {index}: expected a Circuit and an Observable")
            if circuit.n_params != theta0.shape[0]:
                raise ConfigError(
                    f"term {index}: circuit has n_params={circuit.n_params}, "
                    f"expected len(theta0)={theta0.shape[0]}"
                )
            if observable.max_wire >= circuit.n_qubits:
                raise ConfigError(
                    f"term {index}: observable acts on wire {observable.max_wire}, beyond the "
                    f"circuit's {circuit.n_qubits} qubit(s)"
                )
        self._check_loss(len(circuits))
        object.__setattr__(self, "circuits", circuits)
        object.__setattr__(self, "observables", observables)
        object.__setattr__(self, "theta0", theta0)
        if self.targets is not None:
            targets = _float_vector(self.targets, "targets", len(circuits))
            object.__setattr__(self, "targets", targets)
        if self.exact_value is not None:
            object.__setattr__(self, "exact_value", float(self.exact_value))
        metadata = dict(self.metadata)
        try:
            json.dumps(metadata, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"problem {self.name!r}: metadata is not JSON-ready: {exc}") from exc
        object.__setattr__(self, "metadata", metadata)

    def _check_loss(self, n_terms: int) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"loss must be one of {list(LOSSES)}, got {self.loss!r}")
        if self.loss == "expval" and n_terms != 1:
            raise ConfigError(f"loss 'expval' needs exactly one term, got {n_terms}")
        if (self.loss == "mse") != (self.targets is not None):
            raise ConfigError(
                f"loss {self.loss!r}: targets are required for 'mse' and only for 'mse'"
            )
        if self.exact_value is not None and not math.isfinite(float(self.exact_value)):
            raise ConfigError(f"exact_value must be finite, got {self.exact_value!r}")

    @property
    def n_terms(self) -> int:
        """``T``, the number of (circuit, observable) terms."""
        return len(self.circuits)

    @property
    def n_params(self) -> int:
        """``P = len(theta0)``."""
        return int(self.theta0.shape[0])

    def _term_values(self, term_values: object) -> NDArray[np.float64]:
        return _float_vector(term_values, "term_values", self.n_terms)

    def loss_value(self, term_values: NDArray[np.float64]) -> float:
        """The loss from the ``(T,)`` term values (see :data:`LOSSES`).

        Raises:
            ConfigError: if ``term_values`` is not ``T`` finite numbers.
        """
        values = self._term_values(term_values)
        if self.loss == "mse":
            assert self.targets is not None  # checked in __post_init__
            return float(np.mean((values - self.targets) ** 2))
        return float(np.mean(values))

    def report(self, term_values: NDArray[np.float64]) -> dict[str, float]:
        """Summary numbers from the ``(T,)`` term values at the final θ.

        The base problem reports ``{"loss": ...}``; built-in problems add their own keys.
        """
        return {"loss": self.loss_value(term_values)}
