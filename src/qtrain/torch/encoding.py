"""How a layer's inputs and weights fill a circuit's parameters.

A circuit with ``P`` parameters ``P(0) … P(P-1)`` is split into *input* parameters (one
column of the data each) and *weight* parameters (the layer's trainable vector). Every index
is exactly one of the two. Row ``b`` of the circuit's parameter matrix is

    θ[b, input_params[j]] = x[b, j],    θ[b, weight_params[i]] = w[i]

Scaling and re-uploading live in the circuit itself: ``ry(0, 2.0 * P(3))`` feeds twice the
input into that gate, and an input index used by several gates is re-uploaded into each of
them (``passes.slots`` lowers these to angle slots ``angles = θ @ Mᵀ + b``, which makes the
chain rule exact).

>>> from qtrain.ir.circuit import Circuit
>>> from qtrain.ir.params import P
>>> c = Circuit(1).rx(0, P(0)).ry(0, 2 * P(1)).rx(0, P(0))
>>> enc = Encoding.split(c, input_params=[0], weight_params=[1])
>>> enc.theta(np.array([[0.1], [0.2]]), np.array([0.5])).tolist()
[[0.1, 0.5], [0.2, 0.5]]
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ConfigError
from qtrain.ir.circuit import Circuit

__all__ = ["Encoding"]


def _indices(values: Iterable[object], name: str, n_params: int) -> tuple[int, ...]:
    """The indices as ints, each a valid parameter index and none repeated.

    Raises:
        ConfigError: a non-int, out-of-range or repeated index (naming it).
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ConfigError(f"{name} must be a list of parameter indices, got {values!r}")
    found: list[int] = []
    for k in values:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise ConfigError(f"{name}: {k!r} is not a parameter index (an int)")
        if not 0 <= int(k) < n_params:
            raise ConfigError(
                f"{name}: parameter index {k} is unknown; the circuit has {n_params} "
                f"parameter(s), indices 0..{n_params - 1}"
            )
        if int(k) in found:
            raise ConfigError(f"{name}: parameter index {k} is listed twice")
        found.append(int(k))
    return tuple(found)


@dataclass(frozen=True)
class Encoding:
    """Which circuit parameters are inputs and which are weights.

    Attributes:
        n_params: ``P``, the circuit's parameter count.
        input_params: circuit index of input column ``j`` (``n_in`` of them).
        weight_params: circuit index of weight ``i`` (``n_w`` of them).
    """

    n_params: int
    input_params: tuple[int, ...]
    weight_params: tuple[int, ...]

    @staticmethod
    def split(
        circuit: Circuit, *, input_params: Iterable[object], weight_params: Iterable[object]
    ) -> Encoding:
        """Check the split: every parameter index is exactly one of input or weight.

        Raises:
            ConfigError: an unknown or repeated index, an index claimed as both input and
                weight, or a circuit parameter that is neither (each named).
        """
        n_params = circuit.n_params
        inputs = _indices(input_params, "input_params", n_params)
        weights = _indices(weight_params, "weight_params", n_params)
        both = sorted(set(inputs) & set(weights))
        if both:
            raise ConfigError(
                f"parameter(s) {both} are claimed as both input and weight; each circuit "
                "parameter is exactly one of the two"
            )
        missing = sorted(set(range(n_params)) - set(inputs) - set(weights))
        if missing:
            raise ConfigError(
                f"circuit parameter(s) {missing} are neither input_params nor weight_params; "
                f"the circuit has {n_params} parameter(s) and every one needs a role"
            )
        return Encoding(n_params, inputs, weights)

    @property
    def n_inputs(self) -> int:
        """``n_in``: input columns."""
        return len(self.input_params)

    @property
    def n_weights(self) -> int:
        """``n_w``: trainable weights."""
        return len(self.weight_params)

    def theta(self, x: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
        """Circuit parameter rows ``(B, P)`` from inputs ``x (B, n_in)``, weights ``w (n_w,)``."""
        rows = np.empty((x.shape[0], self.n_params), dtype=np.float64)
        rows[:, list(self.input_params)] = x
        rows[:, list(self.weight_params)] = w[None, :]
        return rows

    def columns(self, *, inputs: bool, weights: bool) -> tuple[int, ...]:
        """The circuit indices to differentiate: the weights' then the inputs' (as asked)."""
        return (self.weight_params if weights else ()) + (self.input_params if inputs else ())
