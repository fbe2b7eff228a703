"""The circuit IR: an immutable :class:`Circuit` of validated :class:`Op` values.

Every builder method returns a new circuit, so a circuit can be shared, cached by its
``fingerprint()`` and used as a dictionary key without surprises (TyxonQ's in-place builders
and stale compile caches returned old results after a mutation; here there is nothing to go
stale). Every op is validated when it is added: gate name, wire count, repeated wires, wire
range, argument count and finiteness.

The rooms: :mod:`qtrain.ir.ops` (an :class:`Op` and its validation),
:mod:`qtrain.ir.builders` (the named gate methods, ``c.ry``, ``c.cnot``, ...),
:mod:`qtrain.ir.serialize` (the JSON form and the content hash), :mod:`qtrain.ir.drawing`.

>>> from qtrain.ir.params import P
>>> c = Circuit(2).ry(0, P(0)).cnot(0, 1).crx(0, 1, 2 * P(1) + 0.3)
>>> c.n_params, len(c)
(2, 3)
>>> c.inverse().inverse() == c
True
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from qtrain.errors import CircuitError, ParameterShapeError, WireCountError, WireOutOfRangeError
from qtrain.ir.builders import GateBuilders
from qtrain.ir.drawing import draw_text
from qtrain.ir.ops import Op, check_wires, make_op, wire_list
from qtrain.ir.params import as_arg, evaluate_arg
from qtrain.ir.serialize import circuit_dict, content_hash, ops_from_dict
from qtrain.ir.svg import draw_svg

__all__ = ["Circuit", "Op", "make_op"]


@dataclass(frozen=True)
class Circuit(GateBuilders):
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
        return self.append(make_op(name, wire_list(wires), args))

    def pauli_rot(self, word: str, wires: Sequence[int], angle: object) -> Circuit:
        """``exp(-iθ/2·P)`` for the Pauli word ``word`` on ``wires`` (one letter per wire)."""
        return self.append(make_op("PauliRot", list(wires), (angle,), word=word))

    def unitary(self, matrix: object, wires: int | Sequence[int]) -> Circuit:
        """A fixed (non-trainable) unitary, checked for unitarity to 1e-10."""
        return self.append(make_op("Unitary", wire_list(wires), (), matrix=matrix))

    # The named one-line builders (c.ry, c.cnot, ...) come from GateBuilders.

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
        mapped = check_wires(mapping, other.n_qubits, "compose")
        ops = tuple(
            Op(op.gate, tuple(mapped[w] for w in op.wires), op.args, op.word, op.matrix)
            for op in other.ops
        )
        return Circuit(self.n_qubits, self.ops + ops)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (:mod:`qtrain.ir.serialize`); ``Circuit.from_dict(c.to_dict()) == c``."""
        return circuit_dict(self.n_qubits, self.ops)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Circuit:
        """Rebuild (and fully re-validate) a circuit from :meth:`to_dict` output."""
        n_qubits, ops = ops_from_dict(data)
        return Circuit(n_qubits, ops)

    @cached_property
    def _fingerprint(self) -> str:
        return content_hash(self.to_dict())

    def fingerprint(self) -> str:
        """Content hash (sha256 hex) of the circuit; equal circuits have equal fingerprints."""
        return self._fingerprint

    def draw(self) -> str:
        """A text drawing, one line per wire."""
        return draw_text(self)

    def __str__(self) -> str:
        return self.draw()

    def to_svg(self, *, max_columns: int | None = None) -> str:
        """An SVG drawing (a string; :mod:`qtrain.ir.svg`), at most ``max_columns`` columns."""
        return draw_svg(self, max_columns=max_columns)

    def _summary(self) -> str:
        """``2 qubits, 4 ops (RY×1, CNOT×1, …), 2 params``."""
        counts: dict[str, int] = {}
        for op in self.ops:
            counts[op.gate] = counts.get(op.gate, 0) + 1
        names = [f"{gate}×{count}" for gate, count in counts.items()]
        gates = ", ".join(names[:6] + (["…"] if len(names) > 6 else []))
        qubits = f"{self.n_qubits} qubit{'s' if self.n_qubits > 1 else ''}"
        ops = f"{len(self.ops)} op{'' if len(self.ops) == 1 else 's'}"
        return f"{qubits}, {ops}{f' ({gates})' if gates else ''}, {self.n_params} params"

    def __repr__(self) -> str:
        """``Circuit(2 qubits, 4 ops (RY×2, CNOT×1, CRX×1), 2 params)`` (``draw()`` shows them)."""
        return f"Circuit({self._summary()})"

    def _repr_html_(self) -> str:
        caption = f"<div style='font-family:monospace'>Circuit: {self._summary()}</div>"
        return f"<div>{caption}{self.to_svg(max_columns=60)}</div>"

    @staticmethod
    def from_ops(n_qubits: int, ops: Iterable[Op]) -> Circuit:
        """Build a circuit from already-built ops (validated for wire range)."""
        return Circuit(n_qubits, tuple(ops))
