"""Transpilation for :class:`~qtrain.backends.qiskit.QiskitBackend`: once per circuit, cached.

A qtrain circuit becomes a Qiskit circuit (``to_qiskit``: wire ``w`` is virtual qubit ``w``),
is transpiled for the backend (layout, routing, basis gates) once per circuit fingerprint,
and every measurement group then appends its basis rotations and measurements to the
transpiled circuit on the physical qubits where the wires end up (the final layout), the
rotations translated to the device's basis. Observables for an estimator are mapped through
the same layout (``SparsePauliOp.apply_layout``).

Aer 0.18's primitives bind PUB parameters wrongly into parameterised ``crx``/``cry``/``crz``/
``cp``/``cu1`` (qiskit-aer#2323, #2403; ``docs/decisions.md``): those gates are expanded
through their definitions before transpiling, so no transpiled circuit contains them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import ClassicalRegister, ParameterVectorElement
from qiskit.circuit.equivalence_library import SessionEquivalenceLibrary
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import PassManager, Target, TranspilerError
from qiskit.transpiler.passes import BasisTranslator, Optimize1qGatesDecomposition

from qtrain.errors import DeviceCapabilityError
from qtrain.interop.qiskit import to_qiskit, to_sparse_pauli_op
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable

__all__ = ["AER_MISBOUND_GATES", "CLBITS", "Compiled", "compile_circuit"]

AER_MISBOUND_GATES = ("crx", "cry", "crz", "cp", "cu1")
CLBITS = "c"  # the classical register of measured circuits: clbit w holds wire w


@dataclass(eq=False)
class Compiled:
    """One circuit transpiled for one backend, and what measuring it needs.

    Attributes:
        circuit: the transpiled circuit, without measurements.
        n_qubits: the qtrain circuit's wires.
        physical: the physical qubit each wire ends on (after routing).
        param_index: for each of ``circuit.parameters`` in order, its qtrain index ``k``.
        target: the backend's target (rotations are translated to it), ``None`` for Aer.
    """

    circuit: QuantumCircuit
    n_qubits: int
    physical: tuple[int, ...]
    param_index: tuple[int, ...]
    target: Target | None
    _measured: dict[tuple[tuple[int, str], ...], QuantumCircuit]

    def bindings(self, params: NDArray[np.float64]) -> NDArray[np.float64]:
        """``(B, P')`` values for ``circuit.parameters`` from qtrain's ``(B, P)`` rows."""
        return np.ascontiguousarray(params[:, list(self.param_index)], dtype=np.float64)

    def measured(self, rotations: tuple[tuple[int, str], ...]) -> QuantumCircuit:
        """The circuit with a group's basis rotations (H for X, S†·H for Y), then measured.

        Every wire ``w`` is measured into clbit ``w`` of register ``"c"`` (cached per
        rotation set).
        """
        cached = self._measured.get(rotations)
        if cached is not None:
            return cached
        qc = self.circuit.copy()
        qc.add_register(ClassicalRegister(self.n_qubits, CLBITS))
        for wire, letter in rotations:
            if letter == "Y":
                qc.sdg(self.physical[wire])
            qc.h(self.physical[wire])
        for wire in range(self.n_qubits):
            qc.measure(self.physical[wire], wire)
        if self.target is not None and rotations:
            qc = _translate(qc, self.target)
        self._measured[rotations] = qc
        return qc

    def sparse_op(self, observable: Observable) -> SparsePauliOp:
        """The observable on the transpiled circuit's physical qubits."""
        op = to_sparse_pauli_op(observable, self.n_qubits)
        layout = self.circuit.layout
        if layout is None:
            if self.circuit.num_qubits == self.n_qubits:
                return op
            return op.apply_layout(list(range(self.n_qubits)), self.circuit.num_qubits)
        return op.apply_layout(layout)


def _translate(qc: QuantumCircuit, target: Target) -> QuantumCircuit:
    """Appended rotations in the device's basis (no layout or routing: qubits are physical)."""
    manager = PassManager(
        [
            BasisTranslator(SessionEquivalenceLibrary, target_basis=[], target=target),
            Optimize1qGatesDecomposition(target=target),
        ]
    )
    translated = manager.run(qc)
    if not isinstance(translated, QuantumCircuit):  # pragma: no cover - one circuit in, one out
        raise TypeError("PassManager.run returned no circuit")
    return translated


def compile_circuit(
    circuit: Circuit,
    backend: Any,
    *,
    device_qubits: int | None,
    is_aer: bool,
    options: Mapping[str, Any],
) -> Compiled:
    """Transpile ``circuit`` for ``backend`` (``options``: keyword arguments of ``transpile``).

    Raises:
        DeviceCapabilityError: more wires than the device has qubits, or a gate the
            transpiler cannot express in the device's gates (its message names the gate).
    """
    if device_qubits is not None and circuit.n_qubits > device_qubits:
        raise DeviceCapabilityError(
            f"the circuit has {circuit.n_qubits} qubits but {backend.name!r} has only "
            f"{device_qubits}: nothing was submitted"
        )
    qc = to_qiskit(circuit)
    if is_aer:
        qc = qc.decompose(gates_to_decompose=list(AER_MISBOUND_GATES))
    try:
        transpiled = transpile(qc, backend=backend, **options)
    except TranspilerError as exc:
        gates = sorted({instruction.operation.name for instruction in qc.data})
        raise DeviceCapabilityError(
            f"{backend.name!r} cannot run this circuit (gates {', '.join(gates)}): {exc}. "
            "Nothing was submitted"
        ) from None
    if not isinstance(transpiled, QuantumCircuit):  # pragma: no cover - one circuit in, one out
        raise TypeError("transpile returned no circuit")
    layout = transpiled.layout
    physical = (
        tuple(range(circuit.n_qubits))
        if layout is None
        else tuple(layout.final_index_layout(filter_ancillas=True))
    )
    return Compiled(
        circuit=transpiled,
        n_qubits=circuit.n_qubits,
        physical=physical,
        param_index=tuple(_index(p) for p in transpiled.parameters),
        target=None if is_aer else backend.target,
        _measured={},
    )


def _index(parameter: object) -> int:
    if isinstance(parameter, ParameterVectorElement):
        return int(parameter.index)
    raise DeviceCapabilityError(  # pragma: no cover - to_qiskit names only θ[k]
        f"the transpiled circuit has a parameter {parameter} that is not one of θ"
    )
