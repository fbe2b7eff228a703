"""qtrain ↔ Qiskit circuits: every gate, parameter maps, qubit order and round trips.

Matrices are compared with Qiskit's ``Operator(qc).reverse_qargs()``: Qiskit's state index
has qubit 0 as the least significant bit, qtrain's wire 0 as the most significant.
"""

import numpy as np
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector
from qiskit_aer.primitives import EstimatorV2

import qtrain as qt
from qtrain.interop.qiskit import from_qiskit, to_qiskit, to_sparse_pauli_op
from qtrain.ir.circuit import Circuit
from qtrain.ir.gates import GATES
from qtrain.ir.ops import make_op
from qtrain.ir.params import P
from qtrain.testing.reference import reference_expval, reference_matrix
from qtrain.testing.reference_noise import GATE_FAMILIES, random_circuit

# PauliEvolutionGate.to_matrix runs scipy's sparse expm, which warns that it converts its
# input to CSC: an efficiency notice inside Qiskit, not a fault of the conversion.
pytestmark = pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")


def qiskit_matrix(qc: QuantumCircuit, theta) -> np.ndarray:
    """Qiskit's unitary of ``qc`` at ``theta``, in qtrain's qubit order (wire 0 = MSB)."""
    bound = qc.assign_parameters(np.asarray(theta, dtype=float)) if qc.parameters else qc
    return Operator(bound).reverse_qargs().data


def equal_up_to_phase(a: np.ndarray, b: np.ndarray, atol: float = 1e-10) -> bool:
    k = np.unravel_index(np.argmax(np.abs(b)), b.shape)
    phase = a[k] / b[k]
    return abs(abs(phase) - 1.0) < atol and np.allclose(a, phase * b, atol=atol)


def random_unitary(rng: np.random.Generator, dim: int) -> np.ndarray:
    z = rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim))
    q, r = np.linalg.qr(z)
    return q * (np.diag(r) / np.abs(np.diag(r)))


def single_gate_circuit(name: str, rng: np.random.Generator) -> Circuit:
    """``name`` alone on 4 wires: scrambled, non-adjacent wires, random angles."""
    wires = [3, 0, 2, 1]
    if name == "PauliRot":
        return Circuit(4).pauli_rot("XIYZ", wires, P(0))
    if name == "Unitary":
        return Circuit(4).unitary(random_unitary(rng, 8), [3, 0, 2])
    spec = GATES[name]
    angles = [float(a) for a in rng.uniform(-np.pi, np.pi, size=spec.n_params)]
    return Circuit(4).append(make_op(name, wires[: spec.n_wires], angles))


@pytest.mark.parametrize("name", sorted(GATES))
def test_every_gate_alone_has_the_same_matrix_including_global_phase(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    circuit = single_gate_circuit(name, rng)
    theta = [0.7]
    qc = to_qiskit(circuit)
    expected = reference_matrix(circuit, np.array(theta[: circuit.n_params]))
    np.testing.assert_allclose(qiskit_matrix(qc, theta[: circuit.n_params]), expected, atol=1e-10)
    assert from_qiskit(qc) == circuit


def test_asymmetric_two_qubit_gates_are_not_symmetric():
    """The per-gate test would not catch a swapped qubit order on a symmetric gate."""
    for name in ("CNOT", "CY", "CRX", "CRY", "CRZ", "RZX", "Unitary"):
        matrix = reference_matrix(single_gate_circuit(name, np.random.default_rng(1)), [])
        swapped = Circuit(4).swap(3, 0)
        mirrored = reference_matrix(swapped) @ matrix @ reference_matrix(swapped)
        assert not np.allclose(matrix, mirrored), name


def test_round_trips_random_circuits_covering_every_gate():
    seen = set()
    for seed in range(12):
        rng = np.random.default_rng(seed)
        circuit = random_circuit(rng, n_qubits=4, n_ops=40, n_params=4)
        seen.update(op.gate for op in circuit.ops)
        qc = to_qiskit(circuit)
        theta = rng.uniform(-np.pi, np.pi, size=circuit.n_params)
        expected = reference_matrix(circuit, theta)
        np.testing.assert_allclose(qiskit_matrix(qc, theta), expected, atol=1e-10)
        back = from_qiskit(qc)
        assert back == circuit  # same ops, wires and parameter expressions, exactly
        np.testing.assert_allclose(reference_matrix(back, theta), expected, atol=1e-10)
    assert seen == set(GATE_FAMILIES)


def test_tied_and_scaled_parameters_keep_their_expressions():
    circuit = Circuit(2).rx(0, 2 * P(0) + 0.3).rz(1, P(0) - 0.5 * P(1)).cphase(0, 1, -P(1))
    qc = to_qiskit(circuit)
    angles = [instruction.operation.params[0] for instruction in qc.data]
    theta = qc.parameters
    assert [str(p) for p in theta] == ["θ[0]", "θ[1]"]
    assert angles[0].gradient(theta[0]) == 2.0
    assert float(angles[0].bind({theta[0]: 0.0})) == pytest.approx(0.3)
    assert angles[1].gradient(theta[1]) == -0.5
    assert angles[2].gradient(theta[1]) == -1.0
    assert from_qiskit(qc) == circuit


def test_parameter_k_is_the_kth_circuit_parameter_beyond_ten():
    order = [11, 2, 10, 0, 1, 3, 9, 4, 5, 8, 6, 7]
    circuit = Circuit(2)
    for k in order:
        circuit = circuit.ry(k % 2, P(k)).cnot(0, 1)
    qc = to_qiskit(circuit)
    assert [p.index for p in qc.parameters] == list(range(12))
    assert [str(p) for p in qc.parameters][9:] == ["θ[9]", "θ[10]", "θ[11]"]
    theta = np.linspace(-1.0, 2.0, 12)
    np.testing.assert_allclose(qiskit_matrix(qc, theta), reference_matrix(circuit, theta))
    assert from_qiskit(qc) == circuit


def test_unread_parameter_indices_stay_in_qc_parameters():
    circuit = Circuit(2).rx(0, P(0)).ry(1, 3 * P(3))
    qc = to_qiskit(circuit)
    assert qc.num_parameters == circuit.n_params == 4
    theta = [0.1, 0.2, 0.3, 0.4]
    np.testing.assert_allclose(qiskit_matrix(qc, theta), reference_matrix(circuit, theta))
    assert from_qiskit(qc) == circuit


def test_a_circuit_without_parameters_has_none():
    qc = to_qiskit(Circuit(3).h(0).cnot(0, 2))
    assert qc.num_parameters == 0
    assert from_qiskit(qc) == Circuit(3).h(0).cnot(0, 2)


def asymmetric_case():
    circuit = Circuit(3).ry(0, 0.3).cnot(0, 2).x(1)
    observable = qt.Z(0) + 0.5 * qt.Z(1) @ qt.Z(2) - 0.2 * qt.X(0) @ qt.Y(2)
    return circuit, observable


@pytest.mark.parametrize("extra", [False, True])
def test_qubit_order_asymmetric_circuit_and_observable_agree_with_qiskit(extra):
    circuit, observable = asymmetric_case()
    if extra:  # breaks the wire 0 ↔ wire 2 mirror symmetry of the plain case
        circuit = circuit.rx(2, P(0)).h(0)
    theta = [0.7] if extra else []
    expected = qt.expval(circuit, observable, theta)
    assert expected == pytest.approx(reference_expval(circuit, observable, np.array(theta)))
    qc = to_qiskit(circuit)
    op = to_sparse_pauli_op(observable, 3)
    bound = qc.assign_parameters(theta) if theta else qc
    assert Statevector(bound).expectation_value(op).real == pytest.approx(expected, abs=1e-12)
    estimator = EstimatorV2(options={"default_precision": 0.0})
    evs = estimator.run([(qc, op, theta or None)]).result()[0].data.evs
    assert float(evs) == pytest.approx(expected, abs=1e-10)
    if extra:  # the check can fail: either half read the other way round gives another value
        wrong_op = SparsePauliOp([label[::-1] for label in op.paulis.to_labels()], op.coeffs)
        assert abs(Statevector(bound).expectation_value(wrong_op).real - expected) > 0.05
        mirrored = bound.reverse_bits()
        assert abs(Statevector(mirrored).expectation_value(op).real - expected) > 0.05


def test_plain_asymmetric_case_value():
    """Z0 + 0.5 Z1 Z2 - 0.2 X0 Y2 on cos(0.15)|010⟩ + sin(0.15)|111⟩ is 0.5·cos(0.3)."""
    circuit, observable = asymmetric_case()
    state = Statevector(to_qiskit(circuit))
    probabilities = state.probabilities_dict()  # Qiskit's keys read q2 q1 q0
    assert sorted(probabilities) == ["010", "111"]
    assert probabilities["111"] == pytest.approx(np.sin(0.15) ** 2)
    assert state.expectation_value(to_sparse_pauli_op(observable, 3)).real == pytest.approx(
        0.5 * np.cos(0.3), abs=1e-12
    )


def test_converted_circuits_run_on_aer_after_transpile_with_parameter_arrays():
    rng = np.random.default_rng(7)
    circuit = random_circuit(rng, n_qubits=3, n_ops=25, n_params=3)
    circuit = circuit.pauli_rot("XZY", [2, 0, 1], P(1)).gate("ISWAPdg", [1, 2])
    observable = qt.Z(0) @ qt.X(1) + 0.3 * qt.Y(2) - 0.7 * qt.Z(1)
    rows = rng.uniform(-1.0, 1.0, size=(3, circuit.n_params))
    # Aer binds PUB parameters wrongly into parameterized controlled rotations (crx, cry,
    # crz, cp: qiskit-aer#2323, #2391, #2403), so the basis leaves those out.
    basis = ["cx", "u", "rx", "ry", "rz", "rxx", "ryy", "rzz", "rzx"]
    qc = transpile(to_qiskit(circuit), basis_gates=basis, optimization_level=0)
    estimator = EstimatorV2(options={"default_precision": 0.0})
    evs = estimator.run([(qc, to_sparse_pauli_op(observable, 3), rows)]).result()[0].data.evs
    expected = [reference_expval(circuit, observable, row) for row in rows]
    np.testing.assert_allclose(evs, expected, atol=1e-10)


def test_unitary_gate_orientation_matches_qiskit_unitary_gate():
    """qtrain's Unitary on (w0, w1) is Qiskit's UnitaryGate with the qubit order reversed."""
    matrix = random_unitary(np.random.default_rng(3), 4)
    qc = to_qiskit(Circuit(2).unitary(matrix, [0, 1]))
    manual = QuantumCircuit(2)
    manual.unitary(matrix, [1, 0])  # Qiskit's q0 is the least significant: list w1 first
    np.testing.assert_allclose(Operator(qc).data, Operator(manual).data, atol=1e-12)
