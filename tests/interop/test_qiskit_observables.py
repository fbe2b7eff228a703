"""Observables ↔ SparsePauliOp: little-endian labels, coefficients kept, Hermitian only."""

import numpy as np
import pytest
from qiskit.circuit import Parameter
from qiskit.quantum_info import Operator, Pauli, PauliList, SparsePauliOp

import qtrain as qt
from qtrain.errors import InteropError
from qtrain.interop.qiskit import from_sparse_pauli_op, to_sparse_pauli_op
from qtrain.ir.observables import Observable
from qtrain.testing.reference import reference_observable_matrix
from qtrain.testing.reference_noise import random_observable


def test_labels_are_little_endian():
    op = to_sparse_pauli_op(qt.Z(0) + 0.5 * qt.Z(1) @ qt.Z(2) - 0.2 * qt.X(0) @ qt.Y(2), 4)
    assert dict(zip(op.paulis.to_labels(), op.coeffs.real, strict=True)) == {
        "IIIZ": 1.0,
        "IZZI": 0.5,
        "IYIX": -0.2,
    }


@pytest.mark.parametrize("seed", range(8))
def test_random_observables_have_the_same_matrix_and_round_trip(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5))
    observable = random_observable(rng, n, n_terms=5)
    op = to_sparse_pauli_op(observable, n)
    assert op.num_qubits == n
    expected = reference_observable_matrix(observable, n)
    np.testing.assert_allclose(Operator(op).reverse_qargs().data, expected, atol=1e-12)
    assert from_sparse_pauli_op(op) == observable


def test_from_sparse_pauli_op_combines_like_terms_and_reads_qubit_order():
    op = SparsePauliOp(["XIZ", "XIZ", "YYI", "III"], [0.25, 0.25, -1.0, 2.0])
    assert from_sparse_pauli_op(op) == Observable.parse("2 + 0.5 Z0 X2 - Y1 Y2")
    assert from_sparse_pauli_op(Pauli("XY")) == qt.Y(0) @ qt.X(1)


def test_pauli_phases_are_absorbed_into_coefficients():
    # -i·XY with coefficient i is the Hermitian XY (Qiskit keeps the phase in the Pauli).
    op = SparsePauliOp(PauliList(["-iXY"]), coeffs=[1j], ignore_pauli_phase=True)
    assert op.paulis.phase.tolist() == [1]
    assert from_sparse_pauli_op(op) == qt.Y(0) @ qt.X(1)


def test_zero_observable():
    op = to_sparse_pauli_op(qt.Z(0) - qt.Z(0), 2)
    assert op.paulis.to_labels() == ["II"] and op.coeffs.tolist() == [0j]
    assert from_sparse_pauli_op(op).n_terms == 0


def test_complex_coefficient_is_refused_naming_the_term():
    op = SparsePauliOp(["IZ", "XY"], [1.0, 0.5 + 0.1j])
    with pytest.raises(InteropError, match=r"Y0 X1 has the complex coefficient \(0\.5\+0\.1j\)"):
        from_sparse_pauli_op(op)
    with pytest.raises(InteropError, match="complex coefficient"):
        to_sparse_pauli_op(Observable.parse("1j Z0"), 1)


def test_parameterized_coefficients_are_refused():
    op = SparsePauliOp(["Z"], np.array([Parameter("c")], dtype=object))
    with pytest.raises(InteropError, match="parameterized coefficients"):
        from_sparse_pauli_op(op)


def test_size_and_type_errors():
    with pytest.raises(InteropError, match="acts on wire 3, outside 2 qubit"):
        to_sparse_pauli_op(qt.Z(3), 2)
    with pytest.raises(InteropError, match="positive int"):
        to_sparse_pauli_op(qt.Z(0), 0)
    with pytest.raises(InteropError, match="qtrain Observable"):
        to_sparse_pauli_op("Z0", 1)
    with pytest.raises(InteropError, match="needs a SparsePauliOp"):
        from_sparse_pauli_op("ZZ")
