"""Lower a circuit to angle slots: ``angles = θ @ Mᵀ + b``.

Every gate argument that depends on trainable parameters becomes its own *slot* ``s``; the
slot circuit reads ``P(s)`` there, and the affine map from user parameters to slot angles is

    angles[:, s] = Σ_k M[s, k] · θ[:, k] + b[s]

so a parameter used in three gates, or as ``rz(2θ)``, ``-θ + 0.3``, or ``θ₀ - θ₁``, is exact by
construction: the chain rule is ``J_θ = J_slots @ M``. Multi-angle gates (U3) are first
replaced by their exact single-angle decomposition, so every slot feeds a gate with a known
generator spectrum and therefore a shift rule. Constant arguments stay constants.

>>> from qtrain.ir.circuit import Circuit
>>> from qtrain.ir.params import P
>>> prog = lower(Circuit(1).rx(0, 2 * P(0) + 0.3).rz(0, -P(0)).ry(0, 0.5))
>>> prog.matrix.tolist(), prog.offset.tolist()
([[2.0], [-1.0]], [0.3, 0.0])
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.circuit import Circuit, Op, make_op
from qtrain.ir.gates import GateSpec, gate_spec
from qtrain.ir.params import Arg, P, ParamExpr

__all__ = ["SlotProgram", "lower"]


@dataclass(frozen=True, eq=False)
class SlotProgram:
    """A circuit lowered to slots.

    Attributes:
        source: the user's circuit.
        circuit: the slot circuit; slot ``s`` is its parameter ``P(s)``, read exactly once.
        matrix: ``M``, ``(S, P)``: how each slot angle depends on the user parameters.
        offset: ``b``, ``(S,)``.
        slot_gates: ``(S,)`` the spec of the gate each slot feeds (its shift rule's source).
        slot_ops: ``(S,)`` index of that gate in ``circuit.ops``.
        slot_sources: ``(S,)`` index of the user's op in ``source.ops`` the slot came from
            (a U3's three slots all name the U3, although they feed RZ, RY, RZ).
        shift_circuit: the user's ops reading the slots (a U3 stays one U3 of three slots):
            what shifted rows run on. Shifting a U3 argument is shifting its factor in the
            decomposition, so the factor's rule is exact on it; and a noise model attached
            to the user's gates (``NoiseModel.after("U3", ...)``) acts where the user put it,
            not on the decomposition's pieces.
    """

    source: Circuit
    circuit: Circuit
    matrix: NDArray[np.float64]
    offset: NDArray[np.float64]
    slot_gates: tuple[GateSpec, ...]
    slot_ops: tuple[int, ...]
    slot_sources: tuple[int, ...]
    shift_circuit: Circuit

    @property
    def n_slots(self) -> int:
        """``S``, the number of slots."""
        return len(self.slot_gates)

    @property
    def n_params(self) -> int:
        """``P``, the user circuit's parameter count."""
        return self.source.n_params

    def angles(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """Slot angles ``(B, S)`` for user parameter rows ``theta (B, P)``."""
        result: NDArray[np.float64] = theta @ self.matrix.T + self.offset
        return result


def _expanded(op: Op) -> list[Op]:
    """The op itself, or its exact single-angle decomposition if it has several angles."""
    spec = op.spec
    if spec.n_params <= 1 or spec.decomposition is None:
        return [op]
    return [
        make_op(name, [op.wires[i] for i in local], args)
        for name, local, args in spec.decomposition(op.args)
    ]


@lru_cache(maxsize=128)
def lower(circuit: Circuit) -> SlotProgram:
    """Lower ``circuit`` to slots (cached per circuit)."""
    ops: list[Op] = []
    rows: list[dict[int, float]] = []
    offsets: list[float] = []
    gates: list[GateSpec] = []
    slot_ops: list[int] = []
    sources: list[int] = []
    intact: list[Op] = []
    for source, original in enumerate(circuit.ops):
        expanded = _expanded(original)
        positions = iter(_argument_positions(original, len(expanded) > 1))
        slot_of: dict[int, Arg] = {}  # position of an original argument -> its slot parameter
        for op in expanded:
            args: list[Arg] = []
            for arg in op.args:
                position = next(positions)
                if isinstance(arg, ParamExpr):
                    rows.append(dict(arg.terms))
                    offsets.append(arg.offset)
                    gates.append(op.spec)
                    slot_ops.append(len(ops))
                    sources.append(source)
                    args.append(P(len(rows) - 1))
                    if position is not None:
                        slot_of[position] = args[-1]
                else:
                    args.append(arg)
            ops.append(Op(op.gate, op.wires, tuple(args), op.word, op.matrix))
        intact.extend(_reading_slots(original, slot_of, ops[len(ops) - len(expanded) :]))
    matrix = np.zeros((len(rows), circuit.n_params))
    for s, terms in enumerate(rows):
        for k, scale in terms.items():
            matrix[s, k] = scale
    return SlotProgram(
        circuit,
        Circuit(circuit.n_qubits, tuple(ops)),
        matrix,
        np.array(offsets, dtype=np.float64),
        tuple(gates),
        tuple(slot_ops),
        tuple(sources),
        Circuit(circuit.n_qubits, tuple(intact)),
    )


class _Position:
    """A stand-in argument: where a decomposition puts the op's argument ``index``."""

    def __init__(self, index: int) -> None:
        self.index = index


@lru_cache(maxsize=64)
def _decomposition_positions(gate: str) -> tuple[int | None, ...]:
    """For each argument of the decomposition's factors, in order, the op argument it is.

    ``None`` where a factor's argument is not one of the op's arguments as given (computed
    from them): then the op cannot be kept whole for shifted rows.
    """
    spec = gate_spec(gate)
    assert spec.decomposition is not None  # only called for decomposed gates
    stand_ins = cast("tuple[Arg, ...]", tuple(_Position(i) for i in range(spec.n_params)))
    return tuple(
        arg.index if isinstance(arg, _Position) else None
        for _, _, args in spec.decomposition(stand_ins)
        for arg in args
    )


def _argument_positions(op: Op, decomposed: bool) -> tuple[int | None, ...]:
    """The op argument behind each argument of its lowered ops, in order."""
    if not decomposed:
        return tuple(range(len(op.args)))
    return _decomposition_positions(op.gate)


def _reading_slots(original: Op, slot_of: dict[int, Arg], lowered: list[Op]) -> list[Op]:
    """``original`` with each parametrised argument replaced by the slot it became.

    Shifting a U3 argument is shifting its factor in the decomposition (each of θ, φ, λ feeds
    exactly one factor, found by position, so a parameter used twice is two slots). Where the
    decomposition computes its factors' arguments, the lowered ops themselves are returned.
    """
    params = [i for i, a in enumerate(original.args) if isinstance(a, ParamExpr)]
    if any(i not in slot_of for i in params):
        return lowered
    args = tuple(slot_of.get(i, a) for i, a in enumerate(original.args))
    return [Op(original.gate, original.wires, args, original.word, original.matrix)]
