"""Observables to and from Qiskit's ``SparsePauliOp``.

Qiskit writes a Pauli label little-endian: in an ``n``-qubit label the *last* character acts
on qubit 0, so qtrain's wire ``w`` is ``label[n - 1 - w]`` (``Z0 + 0.5 Z1 Z2`` on 3 qubits is
``IIZ`` and ``ZZI``). Coefficients are kept as they are; both directions accept only
Hermitian sums (real coefficients, to 1e-12), the observables an expectation is taken of.

>>> from qtrain.ir.observables import Observable
>>> op = to_sparse_pauli_op(Observable.parse("Z0 + 0.5 Z1 Z2 - 0.2 X0 Y2"), 3)
>>> op.paulis.to_labels(), op.coeffs.real.tolist()
(['IIZ', 'YIX', 'ZZI'], [1.0, -0.2, 0.5])
>>> str(from_sparse_pauli_op(op))
'Z0 - 0.2 X0 Y2 + 0.5 Z1 Z2'
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import NDArray
from qiskit.quantum_info import Pauli, SparsePauliOp

from qtrain.errors import InteropError
from qtrain.ir.observables import Observable, PauliTerm

__all__ = ["from_sparse_pauli_op", "pauli_letters", "to_sparse_pauli_op"]

_IMAG_TOLERANCE = 1e-12  # as Observable.is_hermitian
_LETTERS = "IXZY"  # indexed by x + 2·z in Qiskit's symplectic form


def pauli_letters(x: NDArray[np.bool_], z: NDArray[np.bool_]) -> str:
    """The letters of one phase-free Pauli in qubit order (letter ``i`` acts on qubit ``i``)."""
    return "".join(_LETTERS[int(a) + 2 * int(b)] for a, b in zip(x, z, strict=True))


def to_sparse_pauli_op(observable: Observable, n_qubits: int) -> SparsePauliOp:
    """The observable as an ``n_qubits``-qubit ``SparsePauliOp`` (wire ``w`` ↔ qubit ``w``).

    Terms keep qtrain's canonical order; the zero observable is ``0·I…I``.

    Raises:
        InteropError: ``n_qubits`` is not a positive int or is too small for the observable's
            wires, or a coefficient is complex (naming the term).
    """
    if not isinstance(observable, Observable):
        raise InteropError(f"to_sparse_pauli_op needs a qtrain Observable, got {observable!r}")
    if isinstance(n_qubits, bool) or not isinstance(n_qubits, numbers.Integral) or n_qubits < 1:
        raise InteropError(f"n_qubits must be a positive int, got {n_qubits!r}")
    if observable.max_wire >= n_qubits:
        raise InteropError(
            f"the observable acts on wire {observable.max_wire}, outside {n_qubits} qubit(s) "
            f"(wires 0..{int(n_qubits) - 1}): {observable}"
        )
    labels, coeffs = [], []
    for term, coefficient in observable.terms:
        if abs(coefficient.imag) > _IMAG_TOLERANCE:
            raise InteropError(
                f"term {term} has the complex coefficient {coefficient!r}: only Hermitian "
                "observables (real coefficients) are converted"
            )
        letters = ["I"] * int(n_qubits)
        for wire, letter in term.factors:
            letters[n_qubits - 1 - wire] = letter
        labels.append("".join(letters))
        coeffs.append(coefficient.real)
    if not labels:
        return SparsePauliOp(["I" * int(n_qubits)], np.zeros(1, dtype=np.complex128))
    return SparsePauliOp(labels, np.array(coeffs, dtype=np.complex128))


def from_sparse_pauli_op(op: SparsePauliOp | Pauli) -> Observable:
    """The qtrain observable of a ``SparsePauliOp`` (or one ``Pauli``): qubit ``q`` ↔ wire ``q``.

    Like terms are combined (qtrain's canonical form); identity letters are dropped, so the
    result does not remember the operator's qubit count.

    Raises:
        InteropError: a parameterized coefficient, or a coefficient (after combining like
            terms and absorbing each Pauli's phase) that is not real, naming the term.
    """
    if isinstance(op, Pauli):
        op = SparsePauliOp(op)
    if not isinstance(op, SparsePauliOp):
        raise InteropError(f"from_sparse_pauli_op needs a SparsePauliOp, got {op!r}")
    if op.coeffs.dtype == object:
        raise InteropError(
            f"the SparsePauliOp has parameterized coefficients {list(op.coeffs)}; "
            "assign its parameters first (op.assign_parameters)"
        )
    paulis = op.paulis
    items = []
    for x, z, phase, coeff in zip(paulis.x, paulis.z, paulis.phase, op.coeffs, strict=True):
        letters = pauli_letters(x, z)
        factors = tuple((q, letter) for q, letter in enumerate(letters) if letter != "I")
        items.append((PauliTerm(factors), complex(coeff) * (-1j) ** int(phase)))
    observable = Observable.from_terms(items)
    for term, coefficient in observable.terms:
        if abs(coefficient.imag) > _IMAG_TOLERANCE:
            raise InteropError(
                f"term {term} has the complex coefficient {coefficient!r}: the operator is not "
                "Hermitian, so qtrain cannot take its expectation value"
            )
    return Observable.from_terms((term, c.real) for term, c in observable.terms)
