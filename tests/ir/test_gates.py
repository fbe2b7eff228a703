import numpy as np
import pytest
from scipy.linalg import expm

import qtrain as qt
from qtrain.errors import NonUnitaryError, UnknownGateError
from qtrain.ir.circuit import make_op
from qtrain.ir.gates import GATES, gate_spec, pauli_rot_spec, unitary_spec
from qtrain.testing import reference_matrix

RNG = np.random.default_rng(2026)
ANGLES = [0.0, 0.37, -1.9, np.pi, 2.7 * np.pi]
SPECS = sorted(
    {spec.name: spec for spec in GATES.values() if spec.n_wires > 0}.values(), key=lambda s: s.name
)
PARAMETRIC_1 = [s for s in SPECS if s.n_params == 1]
WORDS = ["X", "ZZ", "XYZ", "YIXZ", "IZ", "II"]

# Textbook matrices, written out independently of the registry's builders.
s2 = 1 / np.sqrt(2)
TEXTBOOK = {
    "I": np.eye(2),
    "X": [[0, 1], [1, 0]],
    "Y": [[0, -1j], [1j, 0]],
    "Z": [[1, 0], [0, -1]],
    "H": [[s2, s2], [s2, -s2]],
    "S": [[1, 0], [0, 1j]],
    "Sdg": [[1, 0], [0, -1j]],
    "T": [[1, 0], [0, np.exp(1j * np.pi / 4)]],
    "Tdg": [[1, 0], [0, np.exp(-1j * np.pi / 4)]],
    "SX": [[0.5 + 0.5j, 0.5 - 0.5j], [0.5 - 0.5j, 0.5 + 0.5j]],
    "SXdg": [[0.5 - 0.5j, 0.5 + 0.5j], [0.5 + 0.5j, 0.5 - 0.5j]],
    "CNOT": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]],
    "CY": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, -1j], [0, 0, 1j, 0]],
    "CZ": np.diag([1, 1, 1, -1]),
    "SWAP": [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]],
    "ISWAP": [[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]],
    "ISWAPdg": [[1, 0, 0, 0], [0, 0, -1j, 0], [0, -1j, 0, 0], [0, 0, 0, 1]],
}


def random_angles(n):
    return RNG.uniform(-2 * np.pi, 2 * np.pi, size=n)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_gate_is_unitary_at_random_angles(spec):
    for _ in range(5):
        u = spec.matrix(*random_angles(spec.n_params))
        assert u.shape == (2**spec.n_wires, 2**spec.n_wires)
        np.testing.assert_allclose(u.conj().T @ u, np.eye(u.shape[0]), atol=1e-12)


@pytest.mark.parametrize("spec", PARAMETRIC_1, ids=lambda s: s.name)
@pytest.mark.parametrize("theta", ANGLES)
def test_gate_equals_exponential_of_its_generator(spec, theta):
    assert spec.generator is not None
    np.testing.assert_allclose(spec.matrix(theta), expm(-1j * theta * spec.generator), atol=1e-12)


@pytest.mark.parametrize("spec", PARAMETRIC_1, ids=lambda s: s.name)
def test_gate_eigenvalues_match_generator(spec):
    g = spec.generator
    np.testing.assert_allclose(g, g.conj().T, atol=0)  # Hermitian
    np.testing.assert_allclose(sorted(spec.eigenvalues), np.linalg.eigvalsh(g), atol=1e-12)


@pytest.mark.parametrize("word", WORDS)
def test_pauli_rot_equals_exponential_and_has_declared_spectrum(word):
    spec = pauli_rot_spec(word)
    for theta in ANGLES:
        np.testing.assert_allclose(
            spec.matrix(theta), expm(-1j * theta * spec.generator), atol=1e-12
        )
    np.testing.assert_allclose(
        sorted(spec.eigenvalues), np.linalg.eigvalsh(spec.generator), atol=1e-12
    )
    assert spec.diagonal == (set(word) <= {"I", "Z"})


def test_controlled_rotation_spectrum_differs_from_plain_rotation():
    assert GATES["RX"].eigenvalues == (-0.5, 0.5)
    assert GATES["CRX"].eigenvalues == (-0.5, 0.0, 0.0, 0.5)
    assert GATES["CPhase"].eigenvalues == (-1.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize("name", sorted(TEXTBOOK))
def test_fixed_gate_matches_textbook_matrix(name):
    np.testing.assert_allclose(GATES[name].matrix(), np.array(TEXTBOOK[name]), atol=1e-15)


def test_toffoli_flips_target_only_when_both_controls_set():
    u = GATES["CCX"].matrix()
    for j in range(8):
        expected = j ^ 1 if j >= 6 else j
        assert u[expected, j] == 1


def test_textbook_rotations():
    t = 0.8
    c, s = np.cos(t / 2), np.sin(t / 2)
    np.testing.assert_allclose(GATES["RX"].matrix(t), [[c, -1j * s], [-1j * s, c]], atol=1e-15)
    np.testing.assert_allclose(GATES["RY"].matrix(t), [[c, -s], [s, c]], atol=1e-15)
    np.testing.assert_allclose(
        GATES["RZ"].matrix(t), np.diag([np.exp(-1j * t / 2), np.exp(1j * t / 2)])
    )
    np.testing.assert_allclose(GATES["PhaseShift"].matrix(t), np.diag([1, np.exp(1j * t)]))
    rzx = expm(-1j * t / 2 * np.kron(TEXTBOOK["Z"], TEXTBOOK["X"]))
    np.testing.assert_allclose(GATES["RZX"].matrix(t), rzx, atol=1e-14)


def test_u3_equals_its_decomposition():
    spec = GATES["U3"]
    for _ in range(5):
        theta, phi, lam = random_angles(3)
        product = np.eye(2)
        for name, _wires, args in spec.decomposition((theta, phi, lam)):
            product = gate_spec(name).matrix(*args) @ product
        np.testing.assert_allclose(spec.matrix(theta, phi, lam), product, atol=1e-12)


def _one_op_circuit(op):
    n = max(op.wires) + 1
    return qt.Circuit(n, (op,))


def _all_ops():
    ops = []
    for spec in SPECS:
        wires = list(range(spec.n_wires))[::-1]  # reversed wires exercise non-sorted order
        ops.append(make_op(spec.name, wires, list(random_angles(spec.n_params))))
    for word in WORDS:
        ops.append(make_op("PauliRot", list(range(len(word))), [0.77], word=word))
    q, _ = np.linalg.qr(RNG.normal(size=(4, 4)) + 1j * RNG.normal(size=(4, 4)))
    ops.append(make_op("Unitary", [1, 0], [], matrix=q))
    return ops


@pytest.mark.parametrize("op", _all_ops(), ids=lambda op: op.gate + op.word)
def test_gate_inverse_is_inverse(op):
    circuit = _one_op_circuit(op)
    u = reference_matrix(circuit)
    u_inv = reference_matrix(circuit.inverse())
    np.testing.assert_allclose(u_inv @ u, np.eye(u.shape[0]), atol=1e-12)


def test_gate_inverse_with_parameters_is_inverse_at_any_theta():
    c = (
        qt.Circuit(2)
        .u3(0, qt.P(0), 2 * qt.P(1), -qt.P(0) + 0.3)
        .crx(0, 1, qt.P(1))
        .rzz(1, 0, qt.P(0))
    )
    theta = random_angles(2)
    product = reference_matrix(c.inverse(), theta) @ reference_matrix(c, theta)
    np.testing.assert_allclose(product, np.eye(4), atol=1e-12)


def test_gate_lookup_is_case_insensitive_with_aliases():
    assert gate_spec("cx") is GATES["CNOT"]
    assert gate_spec("toffoli") is GATES["CCX"]
    assert gate_spec("rY").name == "RY"


def test_unknown_gate_names_the_gate_and_suggests():
    with pytest.raises(UnknownGateError, match=r"'RXY'.*did you mean"):
        gate_spec("RXY")
    with pytest.raises(UnknownGateError, match="'foo'"):
        qt.Circuit(1).gate("foo", 0)


def test_non_unitary_matrix_is_rejected_with_its_error():
    with pytest.raises(NonUnitaryError, match="not unitary"):
        qt.Circuit(1).unitary([[1, 1], [0, 1]], 0)
    with pytest.raises(NonUnitaryError, match="2\\^k"):
        unitary_spec((1, 0, 0, 1, 0, 0, 0, 0, 1))


def test_unitary_wire_count_must_match_matrix():
    with pytest.raises(qt.CircuitError, match="acts on 1 wire"):
        qt.Circuit(2).unitary(np.eye(2), (0, 1))
