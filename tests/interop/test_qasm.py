"""OpenQASM 2/3 in and out: round trips, Qiskit's and PennyLane's exports, errors with lines.

Matrices are compared with ``reference_matrix`` (wire 0 = most significant bit) and, for
Qiskit, ``Operator(qc).reverse_qargs()`` (Qiskit's qubit 0 is the least significant bit).
The Qiskit tests skip when Qiskit is not installed: the reader and writer do not need it.
"""

from pathlib import Path

import numpy as np
import pytest

import qtrain as qt
from qtrain.interop import qasm
from qtrain.interop.qasm import QasmError
from qtrain.ir.circuit import Circuit
from qtrain.ir.gates import GATES
from qtrain.ir.ops import make_op
from qtrain.ir.params import P
from qtrain.testing.reference import reference_matrix

FIXTURES = Path(__file__).parent / "fixtures"
HEAD3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
HEAD2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
CANONICAL = sorted({spec.name for spec in GATES.values()})
WORDS = ("X", "Y", "Z", "YZ", "IXY", "II", "ZIZY")


def aligned_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - e^{iγ} b| for the best global phase γ (inf when |phase| is not 1)."""
    k = np.unravel_index(np.argmax(np.abs(b)), b.shape)
    phase = a[k] / b[k]
    if abs(abs(phase) - 1.0) > 1e-9:
        return float("inf")
    return float(np.max(np.abs(a - phase * b)))


def random_unitary(rng: np.random.Generator, dim: int) -> np.ndarray:
    z = rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim))
    q, r = np.linalg.qr(z)
    return q * (np.diag(r) / np.abs(np.diag(r)))


def random_arg(rng: np.random.Generator, n_params: int):
    """A constant, a scaled and offset parameter, a tie of two parameters, or a bare one."""
    kind = int(rng.integers(4))
    k, j = (int(i) for i in rng.integers(n_params, size=2))
    if kind == 0:
        return float(rng.uniform(-np.pi, np.pi))
    if kind == 1:
        return float(rng.choice([-2.0, -1.0, 0.5, 3.0])) * P(k) + float(rng.uniform(-1, 1))
    if kind == 2:
        return P(k) - 0.37 * P(j) if k != j else -P(k) / 3
    return P(k)


def every_gate_circuit(seed: int, *, unitary: bool = False, n_qubits: int = 4) -> Circuit:
    """Every qtrain gate (PauliRot with several words, incl. all-identity), shuffled wires."""
    rng = np.random.default_rng(seed)
    ops = []
    for name in CANONICAL:
        if name == "Unitary":
            if unitary:
                wire = int(rng.integers(n_qubits))
                ops.append(make_op("Unitary", [wire], matrix=random_unitary(rng, 2)))
            continue
        if name == "PauliRot":
            for word in WORDS:
                wires = [int(w) for w in rng.permutation(n_qubits)[: len(word)]]
                ops.append(make_op("PauliRot", wires, (random_arg(rng, 4),), word=word))
            continue
        spec = GATES[name]
        wires = [int(w) for w in rng.permutation(n_qubits)[: spec.n_wires]]
        ops.append(make_op(name, wires, [random_arg(rng, 4) for _ in range(spec.n_params)]))
    ops.append(make_op("RX", [0], (P(3) + 0.25,)))  # every index 0..3 is read
    order = rng.permutation(len(ops))
    return Circuit(n_qubits, tuple(ops[i] for i in order))


def error_of(text: str) -> QasmError:
    with pytest.raises(QasmError) as info:
        qasm.loads(text)
    return info.value


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_qasm3_round_trip_keeps_every_gate_and_every_coefficient(seed):
    circuit = every_gate_circuit(seed)
    text = qasm.dumps(circuit)
    back = qasm.loads(text)
    assert back == circuit  # same gates, wires, words and bit-identical affine coefficients
    assert {op.gate for op in back.ops} == set(CANONICAL) - {"Unitary"}
    assert back.n_params == circuit.n_params == 4
    assert [f"input float[64] p{k};" in text for k in range(4)] == [True] * 4
    theta = np.random.default_rng(seed).uniform(-2, 2, 4)
    error = np.max(np.abs(reference_matrix(back, theta) - reference_matrix(circuit, theta)))
    assert error < 1e-10


@pytest.mark.parametrize("seed", range(3))
def test_qasm2_round_trip_with_bound_theta(seed):
    circuit = every_gate_circuit(seed)
    theta = np.random.default_rng(10 + seed).uniform(-2, 2, circuit.n_params)
    text = qasm.dumps(circuit, version=2, theta=theta)
    assert text.startswith("OPENQASM 2.0;") and "input" not in text
    back = qasm.loads(text)
    assert back == circuit.bind(theta)  # floats written with repr read back bit for bit
    assert back.n_params == 0
    error = np.max(np.abs(reference_matrix(back) - reference_matrix(circuit, theta)))
    assert error < 1e-10


def test_a_one_qubit_unitary_is_written_as_U_up_to_its_global_phase():
    circuit = every_gate_circuit(5, unitary=True)
    theta = np.linspace(-1.0, 1.0, circuit.n_params)
    for version, phase_line in ((3, True), (2, False)):
        text = qasm.dumps(circuit, version=version, theta=theta)
        assert ("gphase(" in text) is phase_line
        back = qasm.loads(text)
        assert "Unitary" not in {op.gate for op in back.ops}
        assert aligned_error(reference_matrix(back), reference_matrix(circuit, theta)) < 1e-10


def test_a_multi_qubit_unitary_and_v2_parameters_are_refused_clearly():
    two = Circuit(2).unitary(np.eye(4)[[1, 0, 3, 2]], [0, 1])
    with pytest.raises(QasmError, match="2-qubit Unitary"):
        qasm.dumps(two)
    with pytest.raises(QasmError, match=r"theta=.*version=3"):
        qasm.dumps(Circuit(1).rx(0, P(0)), version=2)
    with pytest.raises(QasmError, match="version must be 2 or 3"):
        qasm.dumps(Circuit(1).h(0), version=1)
    assert qasm.dumps(Circuit(1).rx(0, P(0)), version=2, theta=[0.5]).endswith("rx(0.5) q[0];\n")


def test_load_and_dump_files_and_name_the_file_in_errors(tmp_path):
    circuit = every_gate_circuit(7)
    path = tmp_path / "c.qasm"
    qasm.dump(circuit, path)
    assert qasm.load(path) == circuit
    path.write_text(HEAD3 + "qubit[1] q;\nfoo q[0];\n")
    with pytest.raises(QasmError, match=r"c\.qasm: line 4, at 'foo': unknown gate") as info:
        qasm.load(path)
    assert info.value.line == 4 and info.value.source == str(path)
    with pytest.raises(QasmError, match=r"missing\.qasm: no such file"):
        qasm.load(tmp_path / "missing.qasm")
    (tmp_path / "folder.qasm").mkdir()
    with pytest.raises(qt.StorageError, match=r"folder\.qasm"):
        qasm.load(tmp_path / "folder.qasm")


# --- what the reader accepts --------------------------------------------------------------------


def test_the_expression_of_qiskit_qasm3_import_issue_25():
    text = HEAD3 + "input float[64] gamma;\nqubit[1] q;\nrz(2.0*gamma + 0.3) q[0];\n"
    program = qasm.parse(text)
    assert program.parameters == ("gamma",) and program.version == 3
    (op,) = program.circuit.ops
    assert op.gate == "RZ" and op.args == (2.0 * P(0) + 0.3,)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("-gamma/2", -0.5 * P(0)),
        ("(gamma + 0.1)*2", 2.0 * P(0) + 0.2),
        ("pi*gamma", np.pi * P(0)),
        ("gamma - beta + 1", P(0) - P(1) + 1.0),
        ("2*(gamma - 3*beta)/4", 0.5 * P(0) - 1.5 * P(1)),
        ("gamma*2**3", 8.0 * P(0)),
        ("sin(pi/2)*beta - -gamma", P(0) + P(1)),
        ("gamma - gamma + 0.5", 0.5),
    ],
)
def test_affine_arithmetic_on_inputs(expression, expected):
    text = HEAD3 + "input float[64] gamma;\ninput angle[32] beta;\nqubit q;\n"
    (op,) = qasm.loads(text + f"rx({expression}) q;\n").ops
    (arg,) = op.args
    if isinstance(expected, float):
        assert isinstance(arg, float) and arg == pytest.approx(expected)
    else:
        assert dict(arg.terms) == pytest.approx(dict(expected.terms))
        assert arg.offset == pytest.approx(expected.offset)


@pytest.mark.parametrize(
    ("expression", "token"),
    [
        ("gamma*beta", "*"),
        ("sin(gamma)", "sin"),
        ("gamma**2", "**"),
        ("1/gamma", "/"),
        ("2**gamma", "**"),
        ("(gamma+1)*(beta-1)", "*"),
    ],
)
def test_non_affine_expressions_name_the_line_and_the_token(expression, token):
    text = HEAD3 + "input float[64] gamma;\ninput float[64] beta;\nqubit q;\n"
    error = error_of(text + f"h q;\nrx({expression}) q;\n")
    assert error.line == 7 and error.token == token
    assert "non-affine" in str(error) and "line 7" in str(error)


def test_registers_concatenate_in_declaration_order_and_broadcast():
    ops = qasm.loads(HEAD2 + "qreg a[2];\nqreg b[2];\nx b[0];\ncx a, b;\nh a;\n").ops
    assert [(op.gate, op.wires) for op in ops] == [
        ("X", (2,)),
        ("CNOT", (0, 2)),
        ("CNOT", (1, 3)),
        ("H", (0,)),
        ("H", (1,)),
    ]
    ops = qasm.loads(HEAD3 + "qubit[2] a;\nqubit b;\ncz a[1], b;\ncx b, a;\n").ops
    assert [(op.gate, op.wires) for op in ops] == [
        ("CZ", (1, 2)),
        ("CNOT", (2, 0)),
        ("CNOT", (2, 1)),
    ]
    circuit = qasm.loads(HEAD3 + "rx(0.5) $2;\ncx $0, $2;\n")
    assert circuit.n_qubits == 3 and circuit.ops[1].wires == (0, 2)


def test_gate_definitions_are_inlined_recursively_with_affine_parameters():
    text = HEAD3 + (
        "input float[64] t;\n"
        "gate g(x, y) a, b { rx(2*x) a; cx a, b; rz(y - x) b; }\n"
        "gate outer(s) a, b, c { g(s, s/2) a, b; cz b, c; barrier a, b; g(0.1, s) c, a; }\n"
        "qubit[3] q;\nouter(t + 1) q[2], q[0], q[1];\n"
    )
    ops = qasm.loads(text).ops
    assert [(op.gate, op.wires) for op in ops] == [
        ("RX", (2,)),
        ("CNOT", (2, 0)),
        ("RZ", (0,)),
        ("CZ", (0, 1)),
        ("RX", (1,)),
        ("CNOT", (1, 2)),
        ("RZ", (2,)),
    ]
    assert ops[0].args == (2.0 * P(0) + 2.0,)
    assert ops[2].args[0].terms == ((0, -0.5),) and ops[2].args[0].offset == -0.5
    assert ops[4].args == (pytest.approx(0.2),) and ops[6].args == (P(0) + 1.0 - 0.1,)


def test_definitions_named_like_qtrain_gates_become_those_gates_only_when_they_are():
    exact = "gate rzz(p0) a, b { cx a, b; rz(p0) b; cx a, b; }\n"
    wrong = "gate ryy(p0) a, b { cx a, b; rz(p0) b; cx a, b; }\n"  # a ZZ body under a YY name
    ops = qasm.loads(
        HEAD3 + exact + wrong + "qubit[2] q;\nrzz(0.3) q[0], q[1];\nryy(0.3) q[1], q[0];\n"
    ).ops
    assert [op.gate for op in ops] == ["RZZ", "CNOT", "RZ", "CNOT"]


def test_modifiers():
    text = HEAD3 + (
        "input float[64] g;\ngate two a, b { h a; s b; }\nqubit[3] q;\n"
        "inv @ s q[0];\ninv @ rx(0.3) q[1];\npow(2) @ t q[2];\npow(-1) @ sx q[0];\n"
        "ctrl @ x q[0], q[1];\nctrl(2) @ x q[0], q[1], q[2];\nctrl @ rz(g) q[2], q[0];\n"
        "inv @ two q[0], q[1];\nctrl @ gphase(0.5) q[1];\ngphase(0.7);\ninv @ pow(2) @ s q[2];\n"
    )
    ops = qasm.loads(text).ops
    assert [(op.gate, op.wires, op.args) for op in ops] == [
        ("Sdg", (0,), ()),
        ("RX", (1,), (-0.3,)),
        ("T", (2,), ()),
        ("T", (2,), ()),
        ("SXdg", (0,), ()),
        ("CNOT", (0, 1), ()),
        ("CCX", (0, 1, 2), ()),
        ("CRZ", (2, 0), (P(0),)),
        ("Sdg", (1,), ()),
        ("H", (0,), ()),
        ("PhaseShift", (1,), (0.5,)),
        ("Sdg", (2,), ()),
        ("Sdg", (2,), ()),
    ]


def test_measurements_at_the_end_barriers_resets_at_the_start_and_constants():
    program = qasm.parse(
        HEAD3 + "const float[64] half = pi/2;\nqubit[3] q;\nbit[3] c;\nreset q;\n"
        "rx(half) q[0];\nbarrier q;\nc[0] = measure q[0];\nh q[1];\n"
        "c = measure q;\nmeasure q[2] -> c[2];\nbarrier q[0];\n"
    )
    assert [op.gate for op in program.circuit.ops] == ["RX", "H"]
    assert program.circuit.ops[0].args == (np.pi / 2,) and program.measured == (0, 1, 2)
    assert qasm.loads("OPENQASM 3;\nqubit q;\nbit c;\nx q;\nmeasure q;\n").ops[0].gate == "X"


def test_qasm2_constant_functions_and_powers():
    text = HEAD2 + "qreg q[1];\nu1(2*sin(pi/6)) q[0];\nrx(2^3) q[0];\nu2(0, pi) q[0];\nid q[0];\n"
    ops = qasm.loads(text).ops
    assert ops[0].args == (pytest.approx(1.0),) and ops[1].args == (8.0,)
    assert ops[2].gate == "U3" and ops[2].args == (np.pi / 2, 0.0, np.pi) and ops[3].gate == "I"


LIBRARY = {
    "cu3(0.3, 0.2, 0.1)": ("CU3Gate", (0.3, 0.2, 0.1)),
    "cu(0.3, 0.2, 0.1, 0.4)": ("CUGate", (0.3, 0.2, 0.1, 0.4)),
    "ch": ("CHGate", ()),
    "csx": ("CSXGate", ()),
    "cswap": ("CSwapGate", ()),
    "ccz": ("CCZGate", ()),
    "rccx": ("RCCXGate", ()),
    "rc3x": ("RC3XGate", ()),
    "c3x": ("C3XGate", ()),
    "c3sqrtx": ("C3SXGate", ()),
    "c4x": ("C4XGate", ()),
}


@pytest.mark.parametrize("name", LIBRARY)
def test_library_gates_without_a_qtrain_gate_expand_to_exact_products(name):
    qiskit = pytest.importorskip("qiskit")
    from qiskit.circuit import library  # noqa: PLC0415
    from qiskit.quantum_info import Operator  # noqa: PLC0415

    cls, params = LIBRARY[name]
    gate = getattr(library, cls)(*params)
    n = gate.num_qubits
    order = [(i + 1) % n for i in range(n)]  # asymmetric: q[1], q[2], ..., q[0]
    qc = qiskit.QuantumCircuit(n)
    qc.append(gate, order)
    text = HEAD3 + f"qubit[{n}] q;\n{name} {', '.join(f'q[{w}]' for w in order)};\n"
    error = np.max(np.abs(reference_matrix(qasm.loads(text)) - Operator(qc).reverse_qargs().data))
    assert error < 1e-10  # exact, with Qiskit's phase


def test_a_file_with_qelib1_inlined_reads_like_one_that_includes_it():
    qiskit = pytest.importorskip("qiskit")
    library = (Path(qiskit.__file__).parent / "qasm" / "libs" / "qelib1.inc").read_text()
    body = "qreg q[4];\n" + "\n".join(
        [
            "u3(0.1,0.2,0.3) q[0]; u2(0.4,0.5) q[1]; u1(0.6) q[2]; u0(1) q[3]; u(1,2,3) q[2];",
            "x q[0]; y q[1]; z q[2]; h q[3]; s q[0]; sdg q[1]; t q[2]; tdg q[3]; id q[0];",
            "rx(0.1) q[0]; ry(0.2) q[1]; rz(0.3) q[2]; sx q[3]; sxdg q[0]; p(0.7) q[3];",
            "cx q[0],q[1]; cz q[0],q[1]; cy q[1],q[2]; swap q[2],q[3]; ch q[3],q[0];",
            "ccx q[0],q[1],q[2]; cswap q[1],q[2],q[3]; crx(0.1) q[0],q[3]; cry(0.2) q[3],q[1];",
            "crz(0.3) q[2],q[0]; cu1(0.4) q[1],q[3]; cp(0.5) q[0],q[2]; csx q[0],q[1];",
            "cu3(0.1,0.2,0.3) q[3],q[2]; cu(0.1,0.2,0.3,0.4) q[1],q[0]; rxx(0.3) q[0],q[3];",
            "rzz(0.4) q[2],q[1]; rccx q[0],q[1],q[2]; rc3x q[0],q[1],q[2],q[3];",
            "c3x q[3],q[2],q[1],q[0]; c3sqrtx q[0],q[1],q[2],q[3];",
        ]
    )
    inlined = qasm.loads("OPENQASM 2.0;\n" + library + body)
    included = qasm.loads(HEAD2 + body)
    assert aligned_error(reference_matrix(inlined), reference_matrix(included)) < 1e-10
    gates = {op.gate for op in inlined.ops}  # definitions of qtrain's gates are recognised
    assert {"RX", "RZ", "SXdg", "SWAP", "CRX", "CRY", "CRZ", "CPhase", "RXX", "RZZ"} <= gates


def test_a_program_that_expands_to_too_many_gates_is_refused():
    error = error_of(HEAD3 + "qubit q;\npow(300000) @ x q;\n")
    assert error.line == 4 and "more than 200000 gates" in str(error)


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "token", "message"),
    [
        ("qreg q[1];\nh q[0];\n", 1, "qreg", "missing header"),
        ("// nothing\n", 2, None, "missing header"),
        ("OPENQASM 4.0;\n", 1, "4.0", "unsupported OpenQASM version"),
        (HEAD3 + "qubit q;\nhadamard q;\n", 4, "hadamard", "unknown gate"),
        (HEAD3 + "qubit q;\nrxx(0.1) q;\n", 4, "rxx", "acts on 2 qubit"),
        (HEAD3 + "qubit[2] q;\nrx q[0];\n", 4, "rx", "takes 1 parameter"),
        (HEAD3 + "qubit[2] q;\ncx(0.1) q[0], q[1];\n", 4, "cx", "takes 0 parameter"),
        (HEAD3 + "qubit[2] q;\ncx q[0], q[0];\n", 4, "cx", "uses one qubit twice"),
        (HEAD3 + "qubit q;\nbit c;\nc = measure q;\n\nx q;\n", 7, "x", "measured on line 5"),
        (HEAD2 + "qreg q[1];\ncreg c[1];\nmeasure q -> c;\nh q[0];\n", 6, "h", "measured"),
        (HEAD3 + "qubit q;\nrx(theta) q;\n", 4, "theta", "undefined identifier"),
        (HEAD3 + "gate g a { rx(y) a; }\n", 3, "y", "undefined identifier"),
        (HEAD3 + "gate g a { bogus a; }\n", 3, "bogus", "unknown gate"),
        (HEAD3 + "gate g a { h b; }\n", 3, "b", "gate's own qubits"),
        (HEAD3 + "qubit q;\nh r;\n", 4, "r", "'r' is undefined"),
        (HEAD3 + "qubit[2] q;\nh q[2];\n", 4, "q", "index out of range"),
        (HEAD3 + "qubit q;\nbit c;\nmeasure q -> d;\n", 5, "d", "bit register 'd'"),
        (HEAD2 + "qreg q[1];\ncreg c[1];\nif(c==1) x q[0];\n", 5, "if", "classical control"),
        (HEAD2 + "opaque g a;\n", 3, "opaque", "opaque"),
        (HEAD2 + "qreg q[1];\nh q[0];\nreset q[0];\n", 5, "reset", "reset"),
        ('OPENQASM 2.0;\ninclude "other.inc";\n', 2, '"other.inc"', "only qelib1.inc"),
        (HEAD3 + "qubit q;\nrx(2^3) q;\n", 4, "^", "bitwise xor"),
        (HEAD3 + "qubit q;\n/* never closed\nh q;\n", 4, "/*", "unterminated"),
        (HEAD3 + "qubit q;\nrx(1/0) q;\n", 4, "/", "division by zero"),
        (HEAD3 + "qubit q;\nrx(0.1 q;\n", 4, "q", "expected ')'"),
        (HEAD3 + "qubit[2] q;\nnegctrl @ x q[0], q[1];\n", 4, "negctrl", "negctrl"),
        (HEAD3 + "qubit q;\npow(0.5) @ x q;\n", 4, "pow", "needs an integer"),
        (HEAD3 + "gate g a { h a; }\nqubit[2] q;\nctrl @ g q[0], q[1];\n", 5, "g", "ctrl @ g"),
        (HEAD3 + "input int n;\n", 3, "int", "input float"),
        (HEAD3 + "input float x;\nconst float y = 2*x;\n", 4, "y", "depends on an input"),
        (HEAD3 + "qubit q;\nqubit q;\n", 4, "q", "already declared"),
        (HEAD3 + "gate g(x) a { rx(x*x) a; }\ninput float t;\nqubit q;\ng(t) q;\n", 3, "*", "g"),
        (HEAD3, 3, None, "declares no qubits"),
    ],
)
def test_errors_name_the_line_and_the_offending_token(text, line, token, message):
    error = error_of(text)
    assert isinstance(error, qt.QtrainError)
    assert error.line == line and error.token == token, str(error)
    assert message in str(error)
    assert f"line {line}" in str(error)


def test_an_unknown_gate_suggests_close_names():
    message = str(error_of(HEAD3 + "qubit[2] q;\ncrr(0.1) q[0], q[1];\n"))
    assert "did you mean" in message and "cry" in message


# --- files written by other tools ---------------------------------------------------------------

# Written by PennyLane 0.45.1 (qml.to_openqasm on QNodes over default.qubit), with the
# expected matrices (qml.matrix of the tape's operations and diagonalizing gates, wire order
# tape.wires): the generating code is in fixtures/README.md.
PENNYLANE = ("pennylane_all_gates", "pennylane_rotations", "pennylane_wire_labels")


@pytest.mark.parametrize("name", PENNYLANE)
def test_files_written_by_pennylane_import_with_the_same_unitary(name):
    expected = np.load(FIXTURES / "pennylane_matrices.npz")[name]
    program = qasm.parse((FIXTURES / f"{name}.qasm").read_text())
    assert program.version == 2 and program.measured == tuple(range(program.circuit.n_qubits))
    # PennyLane writes GlobalPhase as `gphase(γ) q[0];`, which qtrain drops: compare up to it.
    assert aligned_error(reference_matrix(program.circuit), expected) < 1e-10


def test_a_pennylane_mid_circuit_measurement_is_a_clear_error():
    with pytest.raises(QasmError, match="line 8, at 'if': classical control"):
        qasm.load(FIXTURES / "pennylane_mid_measure.qasm")


def _qiskit_circuit():
    """Named parameters, a ParameterVector, affine expressions, and library gates that
    Qiskit's exporters write as `gate` definitions (rzx, ryy, iswap, ecr, r, ...)."""
    from qiskit import QuantumCircuit, QuantumRegister  # noqa: PLC0415
    from qiskit.circuit import Parameter, ParameterVector  # noqa: PLC0415
    from qiskit.circuit import library as lib  # noqa: PLC0415
    from qiskit.quantum_info import SparsePauliOp  # noqa: PLC0415

    th, g, b, t = ParameterVector("θ", 3), Parameter("gamma"), Parameter("β"), Parameter("t")
    qc = QuantumCircuit(QuantumRegister(2, "a"), QuantumRegister(2, "b"))
    qc.rz(2.0 * g + 0.3, 0)
    qc.rx(th[0], 1)
    qc.append(lib.RZXGate(th[1] * 3), [0, 1])
    qc.append(lib.RYYGate(-g / 2), [1, 2])
    qc.append(lib.RXXGate(b), [0, 2])
    qc.append(lib.RZZGate(th[2]), [3, 1])
    qc.append(lib.PauliEvolutionGate(SparsePauliOp(["XY", "ZZ"], [1.0, 0.5]), t), [0, 1])
    qc.sxdg(0)
    qc.iswap(0, 1)
    qc.ecr(1, 2)
    qc.cu(0.1, 0.2, 0.3, 0.4, 0, 1)
    qc.ch(0, 2)
    qc.cswap(0, 1, 2)
    qc.csx(0, 1)
    qc.u(g, 0.2, 0.3, 2)
    qc.p(0.2, 1)
    qc.cp(b - 0.3, 0, 3)
    qc.r(0.1, 0.2, 0)
    qc.append(lib.XXPlusYYGate(0.3, 0.1), [0, 1])
    qc.dcx(0, 1)
    qc.append(lib.U2Gate(0.1, 0.2), [0])
    qc.append(lib.U1Gate(0.3), [3])
    qc.append(lib.U3Gate(0.1, 0.2, 0.3), [1])
    qc.append(lib.CCZGate(), [0, 1, 2])
    qc.append(lib.CSGate(), [0, 1])
    qc.append(lib.CSdgGate(), [0, 3])
    qc.rccx(0, 1, 2)
    qc.mcx([0, 1, 2], 3)
    qc.append(lib.RC3XGate(), [0, 1, 2, 3])
    qc.append(lib.C3SXGate(), [3, 1, 2, 0])
    qc.crx(g, 1, 3)
    qc.cry(0.3, 3, 0)
    qc.crz(b, 2, 1)
    qc.cy(0, 3)
    qc.append(lib.CU3Gate(0.1, 0.2, 0.3), [2, 3])
    qc.append(lib.CU1Gate(0.3), [2, 3])
    qc.swap(1, 3)
    return qc


def _operator(qc) -> np.ndarray:
    from qiskit.quantum_info import Operator  # noqa: PLC0415

    return Operator(qc.remove_final_measurements(inplace=False)).reverse_qargs().data


@pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")
def test_qiskit_qasm3_export_imports_with_the_same_unitary_and_parameter_order():
    qiskit = pytest.importorskip("qiskit")
    qc = _qiskit_circuit()
    qc.measure_all()
    program = qasm.parse(qiskit.qasm3.dumps(qc))
    # Qiskit declares `input float[64]` in qc.parameters order (renaming t, a stdgates name,
    # and θ[k] to _θ_k_): P(k) is qc.parameters[k], as in from_qiskit.
    assert [p.name for p in qc.parameters] == ["gamma", "t", "β", "θ[0]", "θ[1]", "θ[2]"]
    assert program.parameters == ("gamma", "t_0", "β", "_θ_0_", "_θ_1_", "_θ_2_")
    assert program.measured == (0, 1, 2, 3)
    gates = {op.gate for op in program.circuit.ops}
    assert {"RZX", "RYY", "RXX", "RZZ", "ISWAP", "SXdg"} <= gates  # definitions recognised
    for seed in range(2):
        theta = np.random.default_rng(seed).uniform(-2, 2, len(qc.parameters))
        expected = _operator(qc.assign_parameters(theta))
        assert aligned_error(reference_matrix(program.circuit, theta), expected) < 1e-10


@pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")
def test_qiskit_qasm2_export_of_a_bound_circuit_imports_with_the_same_unitary():
    qiskit = pytest.importorskip("qiskit")
    qc = _qiskit_circuit()
    bound = qc.assign_parameters(np.linspace(-1.0, 1.5, len(qc.parameters)))
    circuit = qasm.loads(qiskit.qasm2.dumps(bound))
    assert aligned_error(reference_matrix(circuit), _operator(bound)) < 1e-10


def test_qiskit_reads_what_qtrain_writes_with_the_same_unitary_and_phase():
    qiskit = pytest.importorskip("qiskit")
    pytest.importorskip("qiskit_qasm3_import")
    from qiskit.quantum_info import Operator  # noqa: PLC0415

    circuit = every_gate_circuit(11, unitary=True)
    theta = np.random.default_rng(3).uniform(-2, 2, circuit.n_params)
    expected = reference_matrix(circuit, theta)
    qc = qiskit.qasm3.loads(qasm.dumps(circuit))
    assert [p.name for p in qc.parameters] == ["p0", "p1", "p2", "p3"]
    bound = qc.assign_parameters(dict(zip(qc.parameters, theta, strict=True)))
    assert np.max(np.abs(Operator(bound).reverse_qargs().data - expected)) < 1e-10
    # QASM 2 has no global phase: drop the all-identity Pauli word and the Unitary to compare
    # exactly, with Qiskit's strict reader (the original qelib1.inc, bodies taken as written).
    kept = tuple(op for op in circuit.ops if op.gate != "Unitary" and set(op.word) != {"I"})
    plain = Circuit(circuit.n_qubits, kept)
    qc2 = qiskit.qasm2.loads(qasm.dumps(plain, version=2, theta=theta))
    assert (
        np.max(np.abs(Operator(qc2).reverse_qargs().data - reference_matrix(plain, theta))) < 1e-10
    )


def test_a_qiskit_circuit_with_a_gate_after_a_measurement_is_refused():
    qiskit = pytest.importorskip("qiskit")
    qc = qiskit.QuantumCircuit(2, 2)
    qc.h(0)
    qc.measure(0, 0)
    qc.cx(0, 1)
    with pytest.raises(QasmError, match="measured on line"):
        qasm.loads(qiskit.qasm3.dumps(qc))
