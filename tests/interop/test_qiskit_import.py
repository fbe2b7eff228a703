"""Qiskit → qtrain: hand-built circuits, gates expanded through definitions, clear errors."""

import importlib
import subprocess
import sys

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Gate, Parameter, ParameterVector
from qiskit.circuit.library import CXGate, PauliEvolutionGate, U2Gate, UnitaryGate
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector

import qtrain as qt
from qtrain.errors import ConfigError, InteropError, QtrainError
from qtrain.interop.qiskit import from_qiskit, to_qiskit, to_sparse_pauli_op
from qtrain.ir.circuit import Circuit
from qtrain.ir.params import P
from qtrain.testing.reference import reference_matrix

pytestmark = pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")


def equal_up_to_phase(a, b, atol=1e-10) -> bool:
    k = np.unravel_index(np.argmax(np.abs(b)), b.shape)
    phase = a[k] / b[k]
    return abs(abs(phase) - 1.0) < atol and np.allclose(a, phase * b, atol=atol)


def hand_built() -> QuantumCircuit:
    """Named parameters (sorted by name: alpha, beta) and a vector x, many gate kinds."""
    alpha, beta, x = Parameter("alpha"), Parameter("beta"), ParameterVector("x", 2)
    qc = QuantumCircuit(3, 3)
    qc.u(2 * beta + 0.3, x[0], -alpha, 0)
    qc.p(x[1] / 2, 1)
    qc.cx(0, 2)
    qc.rzz(alpha - beta, 2, 1)
    qc.sx(1)
    qc.ecr(0, 1)
    qc.append(U2Gate(0.4, x[0]), [2])
    qc.cu(alpha, beta, 0.2, x[1], 1, 0)
    qc.ccz(0, 1, 2)
    qc.ch(2, 0)
    qc.append(CXGate(ctrl_state=0), [1, 2])
    qc.rzx(3 * x[0] - 1.0, 1, 2)
    qc.append(
        PauliEvolutionGate(SparsePauliOp(["XZ", "ZX"], [0.5, -0.25]).simplify(), alpha), [0, 2]
    )
    qc.barrier()
    qc.measure([0, 1, 2], [0, 1, 2])
    return qc


def test_hand_built_circuit_converts_with_the_same_unitary_and_expectation():
    qc = hand_built()
    circuit = from_qiskit(qc)
    assert [str(p) for p in qc.parameters] == ["alpha", "beta", "x[0]", "x[1]"]
    assert circuit.n_params == 4
    assert circuit.ops[0].args == (2 * P(1) + 0.3, P(2), -P(0))
    assert circuit.ops[1].args == (0.5 * P(3),)
    theta = np.array([0.3, -1.1, 0.8, 2.1])
    unitary = qc.remove_final_measurements(inplace=False).assign_parameters(theta)
    assert equal_up_to_phase(
        reference_matrix(circuit, theta), Operator(unitary).reverse_qargs().data
    )
    observable = qt.Z(0) - 0.5 * qt.X(1) @ qt.Y(2) + 0.25 * qt.Z(2)
    expected = Statevector(unitary).expectation_value(to_sparse_pauli_op(observable, 3)).real
    assert qt.expval(circuit, observable, theta) == pytest.approx(expected, abs=1e-10)


def test_explicit_parameter_order():
    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(1)
    qc.rx(a, 0)
    qc.ry(2 * b, 0)
    assert from_qiskit(qc) == Circuit(1).rx(0, P(0)).ry(0, 2 * P(1))
    assert from_qiskit(qc, parameters=[b, Parameter("unused"), a]) == (
        Circuit(1).rx(0, P(2)).ry(0, 2 * P(0))
    )
    with pytest.raises(InteropError, match=r"misses the circuit's parameter\(s\) b"):
        from_qiskit(qc, parameters=[a])
    with pytest.raises(InteropError, match="lists a twice"):
        from_qiskit(qc, parameters=[a, b, a])


def test_global_phase_is_dropped_and_unitaries_agree_up_to_it():
    theta = Parameter("t")
    qc = QuantumCircuit(1, global_phase=theta + 0.5)
    qc.rx(theta, 0)
    circuit = from_qiskit(qc)
    assert circuit == Circuit(1).rx(0, P(0))
    bound = Operator(qc.assign_parameters([0.4])).data
    assert not np.allclose(reference_matrix(circuit, [0.4]), bound)
    assert equal_up_to_phase(reference_matrix(circuit, [0.4]), bound)


@pytest.mark.parametrize(
    ("angle", "shown"),
    [
        (lambda a, b: a**2, "a**2"),
        (lambda a, b: a.sin(), "sin(a)"),
        (lambda a, b: a * b, "a*b"),
    ],
)
def test_non_affine_expressions_name_gate_position_and_expression(angle, shown):
    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(2)
    qc.rx(b, 0)
    qc.crz(angle(a, b), 1, 0)
    with pytest.raises(InteropError, match="not affine") as info:
        from_qiskit(qc)
    message = str(info.value)
    assert "instruction 1 (crz on qubits [1, 0])" in message
    assert shown in message.replace(" ", "")


def test_complex_angle_is_refused():
    a = Parameter("a")
    qc = QuantumCircuit(1)
    qc.rz(1j * a, 0)
    with pytest.raises(InteropError, match="complex"):
        from_qiskit(qc)


def test_measure_in_the_middle_is_refused_but_final_measures_are_skipped():
    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.measure(0, 0)
    qc.x(1)  # another qubit: still fine
    qc.measure(1, 1)
    assert from_qiskit(qc) == Circuit(2).h(0).x(1)
    qc.cx(1, 0)
    with pytest.raises(InteropError, match=r"instruction 4 \(cx on qubits \[1, 0\]\).*measured"):
        from_qiskit(qc)


def test_reset_is_refused():
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.reset(1)
    with pytest.raises(InteropError, match=r"instruction 1 \(reset on qubits \[1\]\)"):
        from_qiskit(qc)


def test_classical_control_flow_is_refused():
    qc = QuantumCircuit(1, 1)
    qc.h(0)
    qc.measure(0, 0)
    with qc.if_test((qc.clbits[0], 1)):
        qc.x(0)
    with pytest.raises(InteropError, match="if_else"):
        from_qiskit(qc)


def test_an_opaque_gate_is_refused_by_name():
    qc = QuantumCircuit(2)
    qc.append(Gate("mystery", 2, []), [1, 0])
    with pytest.raises(
        InteropError, match=r"instruction 0 \(mystery on qubits \[1, 0\]\).*no gate"
    ):
        from_qiskit(qc)


def test_errors_inside_a_definition_name_the_outer_instruction():
    inner = QuantumCircuit(1, name="prep")
    inner.reset(0)
    qc = QuantumCircuit(2)
    qc.append(inner.to_instruction(), [1])
    with pytest.raises(InteropError, match=r"reset.*in the definition of instruction 0 \(prep"):
        from_qiskit(qc)


def test_non_commuting_pauli_evolution_is_refused():
    qc = QuantumCircuit(2)
    qc.append(PauliEvolutionGate(SparsePauliOp(["XI", "ZI"]), 0.3), [0, 1])
    with pytest.raises(InteropError, match="do not commute"):
        from_qiskit(qc)


def test_commuting_pauli_evolution_is_one_rotation_per_term():
    qc = QuantumCircuit(3)
    t = Parameter("t")
    qc.append(PauliEvolutionGate(SparsePauliOp(["ZZI", "XXI"], [0.5, -2.0]), t), [0, 1, 2])
    circuit = from_qiskit(qc)
    assert [(op.word, op.wires, op.args) for op in circuit.ops] == [
        ("IZZ", (0, 1, 2), (P(0),)),
        ("IXX", (0, 1, 2), (-4 * P(0),)),
    ]
    bound = Operator(qc.assign_parameters([0.3])).reverse_qargs().data
    np.testing.assert_allclose(reference_matrix(circuit, [0.3]), bound, atol=1e-10)


def test_a_non_unitary_unitary_gate_is_refused_with_its_position():
    qc = QuantumCircuit(2)
    qc.h(1)
    qc.append(UnitaryGate(np.diag([1.0, 1.0, 1.0, 1.001]), check_input=False), [0, 1])
    with pytest.raises(
        InteropError, match=r"instruction 1 \(unitary on qubits \[0, 1\]\).*unitary"
    ):
        from_qiskit(qc)


def test_wrong_input_types():
    with pytest.raises(InteropError, match="needs a qtrain Circuit"):
        to_qiskit(QuantumCircuit(1))
    with pytest.raises(InteropError, match="needs a qiskit QuantumCircuit"):
        from_qiskit(Circuit(1))
    with pytest.raises(InteropError, match="no qubits"):
        from_qiskit(QuantumCircuit())


def test_interop_errors_are_qtrain_value_errors():
    assert issubclass(InteropError, QtrainError)
    assert issubclass(InteropError, ValueError)


def test_missing_qiskit_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "qiskit", None)  # makes `import qiskit` fail
    monkeypatch.delitem(sys.modules, "qtrain.interop.qiskit")
    with pytest.raises(ConfigError, match=r"pip install 'qtrain\[qiskit\]'"):
        importlib.import_module("qtrain.interop.qiskit")
    interop = importlib.import_module("qtrain.interop")
    with pytest.raises(ConfigError, match=r"qtrain\[qiskit\]"):
        interop.to_qiskit  # noqa: B018  # the lazy attribute imports on access


def test_qtrain_and_qtrain_interop_import_without_qiskit():
    code = (
        "import sys; sys.modules['qiskit'] = None; import qtrain, qtrain.interop\n"
        "try:\n    qtrain.interop.from_qiskit\nexcept qtrain.ConfigError as e:\n    print(e)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "pip install 'qtrain[qiskit]'" in done.stdout
