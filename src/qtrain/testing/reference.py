"""A dense reference simulator: full ``2ⁿ × 2ⁿ`` unitaries, built the obvious way.

Deliberately slow and simple, sharing nothing with ``qtrain.sim`` but the gate registry's
small matrices (which the gate tests check against generators and textbook values). Each op
is embedded into the full space column by column: for basis state ``j``, the gate's local
input index is read off the bits of ``j`` on the op's wires, and every local output index
``a`` writes ``G[a, b]`` at the row where those bits are replaced by ``a``. Wire 0 is the most
significant bit, and a gate's first wire is the most significant bit of its local index.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.circuit import Circuit, Op
from qtrain.ir.matrices import PAULI
from qtrain.ir.observables import Observable
from qtrain.ir.params import ParamExpr

__all__ = [
    "MAX_REFERENCE_QUBITS",
    "reference_expval",
    "reference_matrix",
    "reference_observable_matrix",
    "reference_op_matrix",
    "reference_state",
]

MAX_REFERENCE_QUBITS = 8


def _angles(op: Op, theta: NDArray[np.float64]) -> list[float]:
    values = []
    for arg in op.args:
        if isinstance(arg, ParamExpr):
            values.append(arg.offset + sum(s * float(theta[k]) for k, s in arg.terms))
        else:
            values.append(float(arg))
    return values


def _bit(index: int, wire: int, n_qubits: int) -> int:
    return (index >> (n_qubits - 1 - wire)) & 1


def reference_op_matrix(
    op: Op, theta: NDArray[np.float64], n_qubits: int
) -> NDArray[np.complex128]:
    """The ``(2ⁿ, 2ⁿ)`` matrix of one op at parameters ``theta (P,)``."""
    if n_qubits > MAX_REFERENCE_QUBITS:
        raise ValueError(f"reference simulator is for n <= {MAX_REFERENCE_QUBITS}, got {n_qubits}")
    local = op.spec.matrix(*_angles(op, theta))
    k = len(op.wires)
    dim = 1 << n_qubits
    full = np.zeros((dim, dim), dtype=np.complex128)
    for column in range(dim):
        local_in = 0
        for w in op.wires:
            local_in = (local_in << 1) | _bit(column, w, n_qubits)
        for local_out in range(1 << k):
            row = column
            for position, w in enumerate(op.wires):
                mask = 1 << (n_qubits - 1 - w)
                if (local_out >> (k - 1 - position)) & 1:
                    row |= mask
                else:
                    row &= ~mask
            full[row, column] += local[local_out, local_in]
    return full


def reference_matrix(
    circuit: Circuit, theta: NDArray[np.float64] | None = None
) -> NDArray[np.complex128]:
    """The circuit's full unitary ``U(θ)`` (later ops multiply from the left)."""
    values = np.zeros(circuit.n_params) if theta is None else np.asarray(theta, dtype=np.float64)
    unitary = np.eye(1 << circuit.n_qubits, dtype=np.complex128)
    for op in circuit.ops:
        unitary = reference_op_matrix(op, values, circuit.n_qubits) @ unitary
    return unitary


def reference_state(
    circuit: Circuit, theta: NDArray[np.float64] | None = None
) -> NDArray[np.complex128]:
    """``U(θ)|0…0⟩`` as a ``(2ⁿ,)`` vector."""
    state: NDArray[np.complex128] = reference_matrix(circuit, theta)[:, 0]
    return state


def reference_observable_matrix(observable: Observable, n_qubits: int) -> NDArray[np.complex128]:
    """``Σ c_k P_k`` as a dense matrix, each word a Kronecker product (wire 0 leftmost)."""
    total = np.zeros((1 << n_qubits, 1 << n_qubits), dtype=np.complex128)
    for term, coeff in observable.terms:
        letters = dict(term.factors)
        word: NDArray[np.complex128] = np.eye(1, dtype=np.complex128)
        for w in range(n_qubits):
            word = np.kron(word, PAULI[letters.get(w, "I")]).astype(np.complex128)
        total += coeff * word
    return total


def reference_expval(
    circuit: Circuit, observable: Observable, theta: NDArray[np.float64] | None = None
) -> float:
    """``⟨ψ|H|ψ⟩`` from the dense state and the dense observable."""
    state = reference_state(circuit, theta)
    value = state.conj() @ reference_observable_matrix(observable, circuit.n_qubits) @ state
    return float(value.real)
