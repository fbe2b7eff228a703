"""The circuit IR: an immutable :class:`Circuit` of validated :class:`Op` values.

Every builder method returns a new circuit, so a circuit can be shared, cached by its
``fingerprint()`` and used as a dictionary key without surprises (TyxonQ's in-place builders
and stale compile caches returned old results after a mutation; here there is nothing to go
stale). Every op is validated when it is added: gate name, wire count, repeated wires, wire
range, argument count and finiteness.

>>> from qtrain.ir.params import P
>>> c = Circuit(2).ry(0, P(0)).cnot(0, 1).crx(0, 1, 2 * P(1) + 0.3)
>>> c.n_params, len(c)
(2, 3)
>>> c.inverse().inverse() == c
True
"""

from __future__ import annotations

import hashlib
import json
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from qtrain.errors import (
    ArgumentCountError,
    CircuitError,
    DuplicateWireError,
    ParameterShapeError,
    WireCountError,
    WireOutOfRangeError,
)
from qtrain.ir.drawing import draw_text
from qtrain.ir.gates import GateSpec, gate_spec, pauli_rot_spec, unitary_spec
from qtrain.ir.params import Arg, ParamExpr, arg_from_json, arg_to_json, as_arg, evaluate_arg

__all__ = ["Circuit", "Op", "make_op"]


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


def _check_wires(wires: Sequence[object], expected: int, gate: str) -> tuple[int, ...]:
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


def _wire_list(wires: object) -> list[object]:
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
    checked = _check_wires(list(wires), spec.n_wires, spec.name)
    if len(args) != spec.n_params:
        raise ArgumentCountError(f"{spec.name} takes {spec.n_params} angle(s), got {len(args)}")
    normalised = tuple(as_arg(a, f"{spec.name} argument") for a in args)
    return Op(spec.name, checked, normalised, word if spec.name == "PauliRot" else "", flat)


@dataclass(frozen=True)
class Circuit:
    """An immutable parameterized circuit on ``n_qubits`` wires (wire 0 = most significant).

    Attributes:
        n_qubits: number of wires, at least 1.
        ops: the gates in time order.
    """

    n_qubits: int
    ops: tuple[Op, ...] = field(default=())

    def __post_init__(self) -> None:
        n = self.n_qubits
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise CircuitError(f"n_qubits must be a positive int, got {n!r}")
        for op in self.ops:
            if not isinstance(op, Op):
                raise CircuitError(f"ops must be Op values, got {op!r}")
            self._check_range(op)

    def _check_range(self, op: Op) -> None:
        for w in op.wires:
            if w >= self.n_qubits:
                raise WireOutOfRangeError(
                    f"{op.gate}: wire {w} out of range for a {self.n_qubits}-qubit circuit "
                    f"(valid wires 0..{self.n_qubits - 1})"
                )

    def append(self, op: Op) -> Circuit:
        """A new circuit with ``op`` appended."""
        self._check_range(op)
        new = object.__new__(Circuit)
        object.__setattr__(new, "n_qubits", self.n_qubits)
        object.__setattr__(new, "ops", (*self.ops, op))
        return new

    def gate(self, name: str, wires: int | Sequence[int], *args: object) -> Circuit:
        """Append any registered gate by name: ``c.gate("CRX", (0, 1), P(0))``."""
        return self.append(make_op(name, _wire_list(wires), args))

    def pauli_rot(self, word: str, wires: Sequence[int], angle: object) -> Circuit:
        """``exp(-iθ/2·P)`` for the Pauli word ``word`` on ``wires`` (one letter per wire)."""
        return self.append(make_op("PauliRot", list(wires), (angle,), word=word))

    def unitary(self, matrix: object, wires: int | Sequence[int]) -> Circuit:
        """A fixed (non-trainable) unitary, checked for unitarity to 1e-10."""
        return self.append(make_op("Unitary", _wire_list(wires), (), matrix=matrix))

    # One-line builders for the registered gates; all go through `gate`.
    def i(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("I", q)

    def x(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("X", q)

    def y(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("Y", q)

    def z(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("Z", q)

    def h(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("H", q)

    def s(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("S", q)

    def sdg(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("Sdg", q)

    def t(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("T", q)

    def tdg(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("Tdg", q)

    def sx(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("SX", q)

    def rx(self, q: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("RX", q, angle)

    def ry(self, q: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("RY", q, angle)

    def rz(self, q: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("RZ", q, angle)

    def phase(self, q: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("PhaseShift", q, angle)

    def u3(self, q: int, theta: object, phi: object, lam: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("U3", q, theta, phi, lam)

    def cnot(self, control: int, target: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("CNOT", (control, target))

    cx = cnot

    def cy(self, control: int, target: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("CY", (control, target))

    def cz(self, control: int, target: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("CZ", (control, target))

    def swap(self, a: int, b: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("SWAP", (a, b))

    def iswap(self, a: int, b: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("ISWAP", (a, b))

    def crx(self, control: int, target: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("CRX", (control, target), angle)

    def cry(self, control: int, target: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("CRY", (control, target), angle)

    def crz(self, control: int, target: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("CRZ", (control, target), angle)

    def cphase(self, control: int, target: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("CPhase", (control, target), angle)

    def rxx(self, a: int, b: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("RXX", (a, b), angle)

    def ryy(self, a: int, b: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("RYY", (a, b), angle)

    def rzz(self, a: int, b: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("RZZ", (a, b), angle)

    def rzx(self, a: int, b: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("RZX", (a, b), angle)

    def ccx(self, c0: int, c1: int, target: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("CCX", (c0, c1, target))

    toffoli = ccx

    # Whole-circuit values and transforms.
    def __len__(self) -> int:
        return len(self.ops)

    @cached_property
    def param_indices(self) -> tuple[int, ...]:
        """Sorted trainable parameter indices the circuit reads."""
        return tuple(sorted({k for op in self.ops for k in op.param_indices}))

    @property
    def n_params(self) -> int:
        """Length of the parameter vector θ: highest index used plus one (0 if none)."""
        return self.param_indices[-1] + 1 if self.param_indices else 0

    def inverse(self) -> Circuit:
        """The adjoint circuit ``U†``: ops reversed, each replaced by its inverse gate."""
        inverted = []
        for op in reversed(self.ops):
            spec = op.spec
            matrix = op.matrix
            if spec.name == "Unitary":
                dim = spec.matrix_fn(np.zeros((1, 0))).shape[-1]
                matrix = tuple(np.array(matrix).reshape(dim, dim).conj().T.ravel().tolist())
            args = spec.invert_args(op.args) if op.args else ()
            args = tuple(as_arg(a) for a in args)
            inverted.append(Op(spec.inverse_name, op.wires, args, op.word, matrix))
        return Circuit(self.n_qubits, tuple(inverted))

    def bind(self, theta: Sequence[float]) -> Circuit:
        """The circuit with every parameter expression evaluated at ``theta (P,)``.

        Raises:
            ParameterShapeError: ``theta`` does not have exactly ``n_params`` values.
        """
        values = np.asarray(theta, dtype=np.float64).reshape(1, -1)
        if values.shape[1] != self.n_params:
            raise ParameterShapeError(
                f"bind needs {self.n_params} parameter value(s), got {values.shape[1]}"
            )
        bound = []
        for op in self.ops:
            args = tuple(float(evaluate_arg(a, values)[0]) for a in op.args)
            bound.append(Op(op.gate, op.wires, args, op.word, op.matrix))
        return Circuit(self.n_qubits, tuple(bound))

    def compose(self, other: Circuit, wires: Sequence[int] | None = None) -> Circuit:
        """Append ``other``'s ops, mapping its wire ``i`` to ``wires[i]`` (identity by default)."""
        mapping = list(range(other.n_qubits)) if wires is None else list(wires)
        if len(mapping) != other.n_qubits:
            raise WireCountError(
                f"compose: {other.n_qubits}-qubit circuit needs {other.n_qubits} wires, "
                f"got {len(mapping)}"
            )
        mapped = _check_wires(mapping, other.n_qubits, "compose")
        ops = tuple(
            Op(op.gate, tuple(mapped[w] for w in op.wires), op.args, op.word, op.matrix)
            for op in other.ops
        )
        return Circuit(self.n_qubits, self.ops + ops)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``Circuit.from_dict(c.to_dict()) == c``."""
        ops: list[dict[str, Any]] = []
        for op in self.ops:
            entry: dict[str, Any] = {"gate": op.gate, "wires": list(op.wires)}
            if op.args:
                entry["args"] = [arg_to_json(a) for a in op.args]
            if op.word:
                entry["word"] = op.word
            if op.matrix:
                entry["matrix"] = [[v.real, v.imag] for v in op.matrix]
            ops.append(entry)
        return {"format": "qtrain.circuit", "version": 1, "n_qubits": self.n_qubits, "ops": ops}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Circuit:
        """Rebuild (and fully re-validate) a circuit from :meth:`to_dict` output."""
        if data.get("format") != "qtrain.circuit":
            raise CircuitError(f"not a qtrain circuit dict: format={data.get('format')!r}")
        ops = []
        for entry in data.get("ops", []):
            unknown = set(entry) - {"gate", "wires", "args", "word", "matrix"}
            if unknown:
                raise CircuitError(f"unknown op key(s) {sorted(unknown)} in {entry!r}")
            matrix = entry.get("matrix")
            if matrix is not None:
                dim = round(len(matrix) ** 0.5)
                matrix = np.array([complex(r, i) for r, i in matrix]).reshape(dim, dim)
            args = [arg_from_json(a) for a in entry.get("args", [])]
            ops.append(
                make_op(
                    entry["gate"], entry["wires"], args, word=entry.get("word", ""), matrix=matrix
                )
            )
        return Circuit(data["n_qubits"], tuple(ops))

    @cached_property
    def _fingerprint(self) -> str:
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def fingerprint(self) -> str:
        """Content hash (sha256 hex) of the circuit; equal circuits have equal fingerprints."""
        return self._fingerprint

    def draw(self) -> str:
        """A text drawing, one line per wire."""
        return draw_text(self)

    def __str__(self) -> str:
        return self.draw()

    @staticmethod
    def from_ops(n_qubits: int, ops: Iterable[Op]) -> Circuit:
        """Build a circuit from already-built ops (validated for wire range)."""
        return Circuit(n_qubits, tuple(ops))
