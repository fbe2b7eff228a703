"""One gate application, :class:`Op`, and its validation (:func:`make_op`).

Every op is validated when it is built: gate name, wire count, repeated wires, argument count
and finiteness; the wire range is checked by the circuit that receives it.

>>> from qtrain.ir.params import P
>>> make_op("CRX", (0, 1), (2 * P(1) + 0.3,)).param_indices
(1,)
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qtrain.errors import (
    ArgumentCountError,
    DuplicateWireError,
    WireCountError,
    WireOutOfRangeError,
)
from qtrain.ir.gates import GateSpec, gate_spec, pauli_rot_spec, unitary_spec
from qtrain.ir.params import Arg, ParamExpr, as_arg

__all__ = ["Op", "check_wires", "make_op", "wire_list"]


@dataclass(frozen=True, slots=True)
class Op:
    """One gate application.

    Attributes:
        gate: canonical gate name from ``GATES``.
        wires: the wires, in the gate's own order (controls first).
        args: angle arguments, constants or parameter expressions.
        word: the Pauli word of a ``PauliRot`` (empty otherwise).
        matrix: row-major entries of a fixed ``Unitary`` (empty otherwise).
    """

    gate: str
    wires: tuple[int, ...]
    args: tuple[Arg, ...] = ()
    word: str = ""
    matrix: tuple[complex, ...] = ()

    @property
    def spec(self) -> GateSpec:
        """The resolved gate spec (sized for PauliRot words and Unitary matrices)."""
        if self.gate == "PauliRot":
            return pauli_rot_spec(self.word)
        if self.gate == "Unitary":
            return unitary_spec(self.matrix)
        return gate_spec(self.gate)

    @property
    def param_indices(self) -> tuple[int, ...]:
        """Trainable parameter indices read by this op's arguments."""
        return tuple(k for a in self.args if isinstance(a, ParamExpr) for k in a.indices)


def check_wires(wires: Sequence[object], expected: int, gate: str) -> tuple[int, ...]:
    """``expected`` distinct non-negative int wires of ``gate``, as a tuple.

    Raises:
        WireOutOfRangeError, WireCountError, DuplicateWireError: naming the bad value.
    """
    checked = []
    for w in wires:
        if isinstance(w, bool) or not isinstance(w, numbers.Integral):
            raise WireOutOfRangeError(f"{gate}: wire must be an int, got {w!r}")
        if w < 0:
            raise WireOutOfRangeError(f"{gate}: wire must be >= 0, got {w}")
        checked.append(int(w))
    if len(checked) != expected:
        raise WireCountError(f"{gate} acts on {expected} wire(s), got {len(checked)}: {checked}")
    if len(set(checked)) != len(checked):
        raise DuplicateWireError(f"{gate}: repeated wire in {checked}")
    return tuple(checked)


def wire_list(wires: object) -> list[object]:
    """One wire or a sequence of wires as a list (validated later by ``make_op``)."""
    if isinstance(wires, Sequence) and not isinstance(wires, str):
        return list(wires)
    return [wires]


def make_op(
    gate: str,
    wires: Sequence[object],
    args: Sequence[object] = (),
    *,
    word: str = "",
    matrix: object = None,
) -> Op:
    """Validate and build an :class:`Op` (wire range is checked by the circuit).

    Raises:
        UnknownGateError, WireCountError, DuplicateWireError, WireOutOfRangeError,
        ArgumentCountError, ParameterValueError, NonUnitaryError: naming the bad value.
    """
    spec = gate_spec(gate)
    flat: tuple[complex, ...] = ()
    if spec.name == "PauliRot":
        word = str(word).upper()
        spec = pauli_rot_spec(word)
    elif spec.name == "Unitary":
        array = np.asarray(matrix, dtype=np.complex128)
        flat = tuple(complex(v) for v in array.ravel())
        spec = unitary_spec(flat)
    checked = check_wires(list(wires), spec.n_wires, spec.name)
    if len(args) != spec.n_params:
        raise ArgumentCountError(f"{spec.name} takes {spec.n_params} angle(s), got {len(args)}")
    normalised = tuple(as_arg(a, f"{spec.name} argument") for a in args)
    return Op(spec.name, checked, normalised, word if spec.name == "PauliRot" else "", flat)
