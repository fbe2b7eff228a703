"""Qiskit circuits and observables in and out: ``to_qiskit``, ``from_qiskit`` and SparsePauliOp.

Needs the ``qiskit`` extra (``pip install 'qtrain[qiskit]'``); importing this module without
it raises :class:`~qtrain.errors.ConfigError` saying so.

Conventions:

* **Qubits.** qtrain's wire ``w`` is Qiskit's qubit ``w``, and every gate keeps its qubit
  order (controls first). The two libraries order a *state's* index differently: qtrain's
  wire 0 is the most significant bit, Qiskit's qubit 0 the least significant, so the same
  circuit has ``Operator(qc).reverse_qargs().data == qtrain_matrix`` and an observable's
  Pauli label is read right to left (:func:`to_sparse_pauli_op`). Expectation values agree.
* **Parameters.** qtrain's ``P(k)`` is ``θ[k]`` of one ``ParameterVector("θ", n_params)`` and
  Qiskit's ``qc.parameters`` lists them in index order (``θ[10]`` after ``θ[9]``), so
  ``qc.parameters[k]`` is ``P(k)`` and ``qc.assign_parameters(theta)`` binds qtrain's ``θ``.
  An index no gate reads is kept in ``qc.parameters`` by a zero term ``0·θ[k]`` in the
  global phase. Reading back, ``qc.parameters[k]`` (named parameters sort by name, vectors
  by index) becomes ``P(k)``, unless ``parameters=`` gives another order.
* **Global phase.** qtrain circuits have none; ``to_qiskit`` gives every gate its exact
  matrix, so the unitaries are equal including the phase, and ``from_qiskit`` drops
  ``qc.global_phase`` and the phases of expanded definitions: the unitary is equal up to a
  global phase, which no expectation value, probability or gradient sees.
* **Gates qtrain lacks** (``u2``, ``cu``, ``ch``, ``ccz``, ``ecr``, ``csx``, ``mcx``,
  open-controlled gates, custom gates ...) are expanded through their Qiskit definitions,
  as ``qc.decompose()`` would, until every gate is one of qtrain's (:data:`QISKIT_TO_QTRAIN`,
  ``UnitaryGate``, single-term or commuting ``PauliEvolutionGate``, ``iswap_dg``).
* **Non-unitary instructions.** ``barrier``, ``delay`` and ``global_phase`` are skipped,
  and so is a ``measure`` after which its qubit is not acted on again (final measurements,
  as exporters write them); a gate on a measured qubit, ``reset``, classical control flow,
  a non-affine angle or a gate without a definition is an :class:`~qtrain.errors.InteropError`
  naming the instruction, its position and its qubits.

``to_qiskit`` writes ``PauliRot`` as a ``PauliEvolutionGate`` and ``ISWAPdg`` as
``iSwapGate().inverse()``, which Aer's primitives only run after ``transpile`` (as they do
all gates outside the backend's target). Aer 0.18's primitives also bind PUB parameters
wrongly into parameterized ``crx``/``cry``/``crz``/``cp`` (qiskit-aer#2323, #2403): bind
first, or transpile to a basis without them.

>>> from qtrain.ir.circuit import Circuit
>>> from qtrain.ir.params import P
>>> qc = to_qiskit(Circuit(2).ry(0, P(0)).crx(0, 1, 2 * P(1) + 0.3))
>>> [str(p) for p in qc.parameters], [str(g.params[0]) for g in qc.data]
(['θ[0]', 'θ[1]'], ['θ[0]', '0.3 + 2*θ[1]'])
>>> from_qiskit(qc) == Circuit(2).ry(0, P(0)).crx(0, 1, 2 * P(1) + 0.3)
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from qtrain.extras import require

require("qiskit", extra="qiskit", purpose="qtrain.interop.qiskit (Qiskit circuits)")

import numpy as np  # noqa: E402  # after the check, so a missing qiskit is one clear error
from qiskit.circuit import (  # noqa: E402
    Barrier,
    ControlFlowOp,
    ControlledGate,
    Delay,
    Measure,
    Parameter,
    ParameterVector,
    QuantumCircuit,
    Reset,
)
from qiskit.circuit.library import GlobalPhaseGate, PauliEvolutionGate, UnitaryGate  # noqa: E402
from qiskit.quantum_info import Operator  # noqa: E402

from qtrain.errors import CircuitError, InteropError  # noqa: E402
from qtrain.interop.qiskit_gates import (  # noqa: E402
    QISKIT_TO_QTRAIN,
    pauli_rotations,
    qiskit_gate,
    reverse_qubits,
)
from qtrain.interop.qiskit_observables import (  # noqa: E402
    from_sparse_pauli_op,
    to_sparse_pauli_op,
)
from qtrain.interop.qiskit_params import from_expression  # noqa: E402
from qtrain.ir.circuit import Circuit  # noqa: E402
from qtrain.ir.gates import GATES  # noqa: E402
from qtrain.ir.ops import Op, make_op  # noqa: E402

__all__ = [
    "QISKIT_TO_QTRAIN",
    "from_qiskit",
    "from_sparse_pauli_op",
    "to_qiskit",
    "to_sparse_pauli_op",
]

_MAX_DEPTH = 32  # definitions nest a few levels; deeper means a recursive custom gate
_SKIPPED = (Barrier, Delay, GlobalPhaseGate)


def to_qiskit(circuit: Circuit) -> QuantumCircuit:
    """The circuit as a Qiskit ``QuantumCircuit`` with the same unitary and parameters.

    Args:
        circuit: a qtrain circuit.

    Returns:
        A circuit on ``circuit.n_qubits`` qubits (wire ``w`` → qubit ``w``) whose parameters
        are ``ParameterVector("θ", circuit.n_params)``: ``qc.parameters[k]`` is ``P(k)``,
        affine angles stay expressions (``2·P(0) + 0.3`` → ``2*θ[0] + 0.3``). No
        measurements are added.

    Raises:
        InteropError: ``circuit`` is not a qtrain ``Circuit``.
    """
    if not isinstance(circuit, Circuit):
        raise InteropError(f"to_qiskit needs a qtrain Circuit, got {circuit!r}")
    theta = ParameterVector("θ", circuit.n_params)
    qc = QuantumCircuit(circuit.n_qubits)
    for op in circuit.ops:
        qc.append(qiskit_gate(op, theta), list(op.wires), copy=False)
    unread = sorted(set(range(circuit.n_params)) - set(circuit.param_indices))
    if unread:
        # Keeps θ[k] in qc.parameters (and its position in assign_parameters) at no phase.
        qc.global_phase = sum((0.0 * theta[k] for k in unread[1:]), 0.0 * theta[unread[0]])
    return qc


def from_qiskit(qc: QuantumCircuit, *, parameters: Sequence[Parameter] | None = None) -> Circuit:
    """A Qiskit circuit as a qtrain circuit with the same unitary up to a global phase.

    Args:
        qc: a ``QuantumCircuit`` of gates, optionally followed by measurements and barriers.
        parameters: the order of qtrain's θ: ``parameters[k]`` becomes ``P(k)``. Defaults to
            ``qc.parameters``; may list parameters the circuit does not read.

    Returns:
        A circuit on ``qc.num_qubits`` wires (qubit ``q`` → wire ``q``); gates qtrain lacks
        are expanded through their definitions; see the module notes for what is skipped.

    Raises:
        InteropError: naming the instruction, its position and qubits, for a non-affine
            angle, reset, a gate on a measured qubit, classical control flow or a gate with
            no qtrain equivalent and no definition; or ``parameters`` that miss one of the
            circuit's parameters or repeat one.
    """
    if not isinstance(qc, QuantumCircuit):
        raise InteropError(f"from_qiskit needs a qiskit QuantumCircuit, got {qc!r}")
    if qc.num_qubits < 1:
        raise InteropError(f"from_qiskit: the circuit {qc.name!r} has no qubits")
    reader = _Reader(_parameter_index(qc, parameters))
    reader.read(qc, tuple(range(qc.num_qubits)), "", 0)
    return Circuit(qc.num_qubits, tuple(reader.ops))


def _parameter_index(
    qc: QuantumCircuit, parameters: Sequence[Parameter] | None
) -> dict[Parameter, int]:
    order = list(qc.parameters if parameters is None else parameters)
    index: dict[Parameter, int] = {}
    for k, parameter in enumerate(order):
        if not isinstance(parameter, Parameter):
            raise InteropError(f"parameters[{k}] is not a qiskit Parameter: {parameter!r}")
        if parameter in index:
            raise InteropError(f"parameters lists {parameter} twice (at {index[parameter]}, {k})")
        index[parameter] = k
    missing = [str(p) for p in qc.parameters if p not in index]
    if missing:
        raise InteropError(f"parameters misses the circuit's parameter(s) {', '.join(missing)}")
    return index


class _Reader:
    """Walks a circuit (and the definitions it expands), collecting qtrain ops."""

    def __init__(self, index: Mapping[Parameter, int]) -> None:
        self.index = index
        self.ops: list[Op] = []
        self.measured: set[int] = set()

    def read(self, qc: QuantumCircuit, wires: tuple[int, ...], context: str, depth: int) -> None:
        """Append the ops of ``qc``, whose qubit ``i`` is wire ``wires[i]``."""
        if depth > _MAX_DEPTH:
            raise InteropError(f"{context}: definitions nest deeper than {_MAX_DEPTH} levels")
        for position, instruction in enumerate(qc.data):
            operation = instruction.operation
            op_wires = tuple(wires[qc.find_bit(q).index] for q in instruction.qubits)
            where = f"instruction {position} ({operation.name} on qubits {list(op_wires)})"
            self.instruction(operation, op_wires, where + context, depth)

    def instruction(self, operation: Any, wires: tuple[int, ...], where: str, depth: int) -> None:
        """Convert (or skip, or refuse) one instruction on the given wires."""
        if isinstance(operation, _SKIPPED):
            return
        if isinstance(operation, Measure):
            self.measured.update(wires)
            return
        _refuse_non_unitary(operation, where)
        if self.measured.intersection(wires):
            raise InteropError(
                f"{where} acts on qubit(s) {sorted(self.measured.intersection(wires))} after "
                "they were measured: mid-circuit measurement has no qtrain equivalent "
                "(measurements are accepted only at the end)"
            )
        try:
            direct = self.direct(operation, wires, where)
        except CircuitError as exc:  # e.g. a UnitaryGate that is not unitary to 1e-10
            raise InteropError(f"{where}: {exc}") from exc
        if direct is not None:
            self.ops.extend(direct)
            return
        definition = getattr(operation, "definition", None)
        if definition is None:
            raise InteropError(
                f"{where}: qtrain has no gate {operation.name!r} and Qiskit gives it no "
                "definition to expand; replace it (e.g. transpile to basis gates) first"
            )
        self.read(definition, wires, f" in the definition of {where}", depth + 1)

    def direct(self, operation: Any, wires: tuple[int, ...], where: str) -> list[Op] | None:
        """The qtrain ops for a gate qtrain has, or ``None`` to expand its definition."""
        if isinstance(operation, UnitaryGate):
            matrix = reverse_qubits(np.asarray(operation.to_matrix(), dtype=np.complex128))
            return [make_op("Unitary", list(wires), (), matrix=matrix)]
        if isinstance(operation, PauliEvolutionGate):
            return pauli_rotations(operation, wires, self.index, where)
        if _is_iswap_dg(operation):
            return [make_op("ISWAPdg", list(wires))]
        name = QISKIT_TO_QTRAIN.get(getattr(operation, "base_class", type(operation)))
        if name is None or _open_controlled(operation):
            return None
        args = [from_expression(p, self.index, where) for p in operation.params]
        return [make_op(name, list(wires), args)]


def _refuse_non_unitary(operation: Any, where: str) -> None:
    if isinstance(operation, Reset):
        raise InteropError(
            f"{where}: reset is not unitary and has no qtrain equivalent (circuits start in |0…0⟩)"
        )
    if isinstance(operation, ControlFlowOp):
        raise InteropError(
            f"{where}: classical control flow ({operation.name}) has no qtrain equivalent"
        )
    if getattr(operation, "num_clbits", 0):
        raise InteropError(
            f"{where}: the instruction uses classical bits, which qtrain circuits do not have"
        )


def _open_controlled(operation: Any) -> bool:
    """True for a controlled gate with a control on |0⟩ (not the gate of its base class)."""
    if not isinstance(operation, ControlledGate):
        return False
    return bool(operation.ctrl_state != (1 << operation.num_ctrl_qubits) - 1)


def _is_iswap_dg(operation: Any) -> bool:
    """``iSwapGate().inverse()``: a plain Gate named ``iswap_dg``, recognised by its matrix."""
    if getattr(operation, "name", "") != "iswap_dg" or operation.num_qubits != 2:
        return False
    if operation.params or operation.definition is None:
        return False
    expected = reverse_qubits(GATES["ISWAPdg"].matrix())
    return bool(np.allclose(Operator(operation).data, expected, atol=1e-12))
