"""The gate table between qtrain and Qiskit, and the two gates that need more than a name.

Every qtrain gate has a Qiskit image with the same matrix, global phase included, when the
gate's wires are passed as the Qiskit qubits in the same order (``Op(g, (a, b))`` →
``qc.append(G, [a, b])``): both libraries name controls first and take a gate's textbook
matrix with its first qubit as the *most* significant bit of the matrix index in qtrain and
the *least* significant in Qiskit, and for every named gate below the two readings agree
(RZX is ``exp(-iθ/2·Z⊗X)`` with Z on the first wire in both). Only the explicit matrices,
``Unitary`` ↔ ``UnitaryGate``, have their qubit order reversed (:func:`reverse_qubits`), and
a ``PauliRot`` word is read right to left as a Qiskit Pauli label.

>>> sorted(set(QTRAIN_TO_QISKIT) - {"ISWAPdg", "PauliRot", "Unitary"}) == sorted(
...     set(QISKIT_TO_QTRAIN.values()))
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray
from qiskit.circuit import Gate, Parameter, ParameterExpression
from qiskit.circuit import library as lib
from qiskit.quantum_info import SparsePauliOp

from qtrain.errors import InteropError
from qtrain.interop.qiskit_observables import pauli_letters
from qtrain.interop.qiskit_params import from_expression, to_expression
from qtrain.ir.ops import Op, make_op

__all__ = [
    "QISKIT_TO_QTRAIN",
    "QTRAIN_TO_QISKIT",
    "pauli_rotations",
    "qiskit_gate",
    "reverse_qubits",
]

Angle: TypeAlias = float | ParameterExpression


def _fixed(gate_class: Callable[[], Gate]) -> Callable[[Sequence[Angle]], Gate]:
    return lambda angles: gate_class()


def _angled(gate_class: Callable[..., Gate]) -> Callable[[Sequence[Angle]], Gate]:
    return lambda angles: gate_class(*angles)


QTRAIN_TO_QISKIT: Mapping[str, Callable[[Sequence[Angle]], Gate]] = MappingProxyType(
    {
        "I": _fixed(lib.IGate),
        "X": _fixed(lib.XGate),
        "Y": _fixed(lib.YGate),
        "Z": _fixed(lib.ZGate),
        "H": _fixed(lib.HGate),
        "S": _fixed(lib.SGate),
        "Sdg": _fixed(lib.SdgGate),
        "T": _fixed(lib.TGate),
        "Tdg": _fixed(lib.TdgGate),
        "SX": _fixed(lib.SXGate),
        "SXdg": _fixed(lib.SXdgGate),
        "RX": _angled(lib.RXGate),
        "RY": _angled(lib.RYGate),
        "RZ": _angled(lib.RZGate),
        "PhaseShift": _angled(lib.PhaseGate),
        "U3": _angled(lib.UGate),
        "CNOT": _fixed(lib.CXGate),
        "CY": _fixed(lib.CYGate),
        "CZ": _fixed(lib.CZGate),
        "SWAP": _fixed(lib.SwapGate),
        "ISWAP": _fixed(lib.iSwapGate),
        # Qiskit has no iSwap† class: inverse() is a Gate named "iswap_dg" with a definition.
        "ISWAPdg": lambda angles: lib.iSwapGate().inverse(),
        "CRX": _angled(lib.CRXGate),
        "CRY": _angled(lib.CRYGate),
        "CRZ": _angled(lib.CRZGate),
        "CPhase": _angled(lib.CPhaseGate),
        "RXX": _angled(lib.RXXGate),
        "RYY": _angled(lib.RYYGate),
        "RZZ": _angled(lib.RZZGate),
        "RZX": _angled(lib.RZXGate),
        "CCX": _fixed(lib.CCXGate),
        "PauliRot": lambda angles: lib.IGate(),  # built by qiskit_gate (needs the word)
        "Unitary": lambda angles: lib.IGate(),  # built by qiskit_gate (needs the matrix)
    }
)
"""qtrain gate name → Qiskit gate factory taking the converted angles in qtrain's order."""

QISKIT_TO_QTRAIN: Mapping[type, str] = MappingProxyType(
    {
        lib.IGate: "I",
        lib.XGate: "X",
        lib.YGate: "Y",
        lib.ZGate: "Z",
        lib.HGate: "H",
        lib.SGate: "S",
        lib.SdgGate: "Sdg",
        lib.TGate: "T",
        lib.TdgGate: "Tdg",
        lib.SXGate: "SX",
        lib.SXdgGate: "SXdg",
        lib.RXGate: "RX",
        lib.RYGate: "RY",
        lib.RZGate: "RZ",
        lib.PhaseGate: "PhaseShift",
        lib.U1Gate: "PhaseShift",
        lib.UGate: "U3",
        lib.U3Gate: "U3",
        lib.CXGate: "CNOT",
        lib.CYGate: "CY",
        lib.CZGate: "CZ",
        lib.SwapGate: "SWAP",
        lib.iSwapGate: "ISWAP",
        lib.CRXGate: "CRX",
        lib.CRYGate: "CRY",
        lib.CRZGate: "CRZ",
        lib.CPhaseGate: "CPhase",
        lib.CU1Gate: "CPhase",
        lib.RXXGate: "RXX",
        lib.RYYGate: "RYY",
        lib.RZZGate: "RZZ",
        lib.RZXGate: "RZX",
        lib.CCXGate: "CCX",
    }
)
"""Qiskit gate class (``operation.base_class``) → qtrain gate with the same matrix and
argument order. Open-controlled instances (``ctrl_state`` not all ones) are not these gates."""


def reverse_qubits(matrix: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """Reorder a ``2ᵏ × 2ᵏ`` matrix's qubits back to front (an involution).

    qtrain's matrix for wires ``(w0, …, wk-1)`` has ``w0`` as the most significant index bit;
    Qiskit's for qubits ``[q0, …, qk-1]`` has ``q0`` as the least significant one, so the same
    operator on the same ordered qubits has the reversed matrix.
    """
    k = matrix.shape[0].bit_length() - 1
    if k <= 1:
        return np.array(matrix, dtype=np.complex128)
    axes = list(range(k))[::-1]
    tensor = np.asarray(matrix, dtype=np.complex128).reshape((2,) * (2 * k))
    reordered = tensor.transpose(axes + [k + a for a in axes])
    return np.ascontiguousarray(reordered.reshape(matrix.shape), dtype=np.complex128)


def qiskit_gate(op: Op, theta: Sequence[Parameter]) -> Gate:
    """The Qiskit gate for one qtrain op, to be applied to qubits ``op.wires`` in order."""
    if op.gate == "Unitary":
        dim = 1 << len(op.wires)
        matrix = np.array(op.matrix, dtype=np.complex128).reshape(dim, dim)
        return lib.UnitaryGate(reverse_qubits(matrix), check_input=False)
    if op.gate == "PauliRot":
        # exp(-iθ/2·P) = exp(-i·t·P) with t = θ/2; the label's last letter is qubit 0.
        time = to_expression(op.args[0] / 2.0, theta)
        return lib.PauliEvolutionGate(SparsePauliOp(op.word[::-1]), time=time)
    angles = [to_expression(a, theta) for a in op.args]
    return QTRAIN_TO_QISKIT[op.gate](angles)


def pauli_rotations(
    gate: lib.PauliEvolutionGate,
    wires: Sequence[int],
    index: Mapping[Parameter, int],
    where: str,
) -> list[Op]:
    """``exp(-i·t·Σ c_j P_j)`` as one ``PauliRot(P_j, 2·c_j·t)`` per term.

    Exact when the terms commute pairwise (a single term always does); otherwise the gate is
    a product-formula approximation, which qtrain refuses rather than silently approximate.

    Raises:
        InteropError: a list of operators, parameterized or complex coefficients, or terms
            that do not commute.
    """
    operator = gate.operator
    if not isinstance(operator, SparsePauliOp):
        raise InteropError(
            f"{where}: a PauliEvolutionGate over a list of operators is a product formula, "
            "not an exact gate; decompose it first (qc.decompose())"
        )
    paulis, coeffs = operator.paulis, operator.coeffs
    for i in range(len(paulis)):
        for j in range(i):
            if not paulis[i].commutes(paulis[j]):
                raise InteropError(
                    f"{where}: the PauliEvolutionGate's terms {paulis[j]} and {paulis[i]} do "
                    "not commute, so it is a Trotter approximation, not an exact gate; "
                    "decompose it first (qc.decompose())"
                )
    time = from_expression(gate.params[0], index, where)
    ops = []
    for x, z, phase, coeff in zip(paulis.x, paulis.z, paulis.phase, coeffs, strict=True):
        word = pauli_letters(x, z)  # in qubit order, so letter i acts on wires[i]
        what = f"{where}: the coefficient of {word[::-1]}"
        if isinstance(coeff, ParameterExpression) and coeff.parameters:
            raise InteropError(f"{what} is parameterized ({coeff}); it must be a number")
        value = complex(coeff) * (-1j) ** int(phase)
        if abs(value.imag) > 1e-12 or not np.isfinite(value.real):
            raise InteropError(f"{what} is {value!r}; exp(-i·t·c·P) is a rotation for real c")
        ops.append(make_op("PauliRot", list(wires), (2.0 * value.real * time,), word=word))
    return ops
