import numpy as np
import pytest
from scipy.linalg import expm

import qtrain as qt
from qtrain.testing import reference_matrix, reference_observable_matrix


def test_ansatz_hardware_efficient_layout():
    c = qt.ansatz.hardware_efficient(3, 2)
    assert c.n_params == 12
    names = [op.gate for op in c.ops]
    assert names[:8] == ["RY"] * 3 + ["RZ"] * 3 + ["CNOT"] * 2
    assert [op.args[0].indices[0] for op in c.ops if op.args][:6] == [0, 1, 2, 3, 4, 5]
    ring = qt.ansatz.hardware_efficient(3, 1, pattern="ring", rotations=("RX",), entangler="CZ")
    assert [op.wires for op in ring.ops if op.gate == "CZ"] == [(0, 1), (1, 2), (2, 0)]


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"pattern": "star"}, "ladder"),
        ({"rotations": ("CNOT",)}, "1-qubit"),
        ({"entangler": "RX"}, "fixed 2-qubit"),
        ({"entangler": "nope"}, "unknown gate"),
    ],
)
def test_ansatz_hardware_efficient_rejects_bad_options(kwargs, text):
    with pytest.raises(qt.CircuitError, match=text):
        qt.ansatz.hardware_efficient(3, 1, **kwargs)
    with pytest.raises(qt.CircuitError, match="layers"):
        qt.ansatz.hardware_efficient(3, 0)


def test_ansatz_strongly_entangling_ranges():
    c = qt.ansatz.strongly_entangling(4, 3)
    assert c.n_params == 36
    cnots = [op.wires for op in c.ops if op.gate == "CNOT"]
    assert cnots[:4] == [(0, 1), (1, 2), (2, 3), (3, 0)]
    assert cnots[4:8] == [(0, 2), (1, 3), (2, 0), (3, 1)]
    with pytest.raises(qt.CircuitError, match="itself"):
        qt.ansatz.strongly_entangling(3, 1, ranges=[3])


def test_ansatz_qaoa_layer_is_exact_evolution():
    cost = qt.Observable.parse("0.5 Z0 Z1 - 0.7 Z1 Z2 + 0.2 Z0")
    c = qt.ansatz.qaoa(cost, 1)
    assert c.n_params == 2 and c.n_qubits == 3
    gamma, beta = 0.37, -1.1
    mixer = sum((qt.X(q) for q in range(3)), qt.Observable.from_terms([]))
    plus = np.ones(8) / np.sqrt(8)
    expected = (
        expm(-1j * beta * reference_observable_matrix(mixer, 3))
        @ expm(-1j * gamma * reference_observable_matrix(cost, 3))
        @ plus
    )
    state = reference_matrix(c, np.array([gamma, beta]))[:, 0]
    np.testing.assert_allclose(state, expected, atol=1e-12)


def test_ansatz_qaoa_rejects_cost_beyond_qubits():
    with pytest.raises(qt.ObservableError, match="wire 3"):
        qt.ansatz.qaoa(qt.Z(3), 1, n_qubits=2)


def test_ansatz_random_pauli_is_mcclean_layout_and_seeded():
    c = qt.ansatz.random_pauli(4, 3, seed=5)
    assert c.n_params == 12
    assert [op.gate for op in c.ops[:4]] == ["RY"] * 4  # the RY(π/4) preparation
    assert all(op.args[0] == pytest.approx(np.pi / 4) for op in c.ops[:4])
    rotations = [op.gate for op in c.ops if op.param_indices]
    assert set(rotations) <= {"RX", "RY", "RZ"} and len(rotations) == 12
    assert [op.wires for op in c.ops if op.gate == "CZ"][:3] == [(0, 1), (1, 2), (2, 3)]
    assert c == qt.ansatz.random_pauli(4, 3, seed=5)
    assert c == qt.ansatz.random_pauli(4, 3, seed=np.random.default_rng(5))
    draws = {qt.ansatz.random_pauli(4, 3, seed=s).fingerprint() for s in range(8)}
    assert len(draws) == 8  # different seeds, different members of the family
    built = qt.Circuit(4)  # the same member through the validating builders
    for q in range(4):
        built = built.ry(q, np.pi / 4)
    axes = np.random.default_rng(5).integers(0, 3, size=(3, 4))
    for layer in range(3):
        for q in range(4):
            built = built.gate(("RX", "RY", "RZ")[axes[layer, q]], q, qt.P(layer * 4 + q))
        for q in range(3):
            built = built.cz(q, q + 1)
    assert c == built and c.fingerprint() == built.fingerprint()
    bare = qt.ansatz.random_pauli(4, 3, seed=5, prepare=False)
    assert len(bare) == len(c) - 4 and bare.n_params == 12
    axes = np.array(
        [op.gate for op in qt.ansatz.random_pauli(3, 400, seed=1).ops[3:] if op.param_indices]
    )
    assert all(abs(np.mean(axes == g) - 1 / 3) < 0.03 for g in ("RX", "RY", "RZ"))


def test_ansatz_identity_block_is_the_identity_at_tied_values_only():
    half = qt.ansatz.random_pauli(3, 2, seed=3, prepare=False)
    block = qt.ansatz.identity_block(half)
    assert block.n_params == 2 * half.n_params
    phi = np.random.default_rng(0).uniform(0, 2 * np.pi, half.n_params)
    assert np.allclose(reference_matrix(block, np.concatenate([phi, phi])), np.eye(8), atol=1e-12)
    other = np.concatenate([phi, phi + 0.3])
    assert not np.allclose(reference_matrix(block, other), np.eye(8), atol=1e-3)


def test_ansatz_identity_blocks_chain_fresh_parameters():
    halves = [qt.ansatz.hardware_efficient(2, 1), qt.ansatz.random_pauli(2, 2, seed=1)]
    circuit = qt.ansatz.identity_blocks(halves)
    assert circuit.n_params == 2 * (4 + 4)
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0, 6, 4), rng.uniform(0, 6, 4)
    theta = np.concatenate([a, a, b, b])
    expected = reference_matrix(halves[1], b).conj().T @ reference_matrix(halves[1], b)
    assert np.allclose(reference_matrix(circuit, theta), expected, atol=1e-12)
    assert np.allclose(expected, np.eye(4), atol=1e-12)
    with pytest.raises(qt.CircuitError, match="at least one"):
        qt.ansatz.identity_blocks([])
    with pytest.raises(qt.CircuitError, match="3 qubits"):
        qt.ansatz.identity_blocks([qt.ansatz.hardware_efficient(3, 1), halves[0]])


def test_ansatz_renumbered_shifts_every_parameter():
    c = qt.Circuit(1).rx(0, 2 * qt.P(0) + 0.5).rz(0, qt.P(1) - qt.P(0)).ry(0, 0.2)
    moved = qt.ansatz.renumbered(c, 3)
    assert moved.n_params == 5 and moved.ops[2] == c.ops[2]
    theta = np.array([0.0, 0.0, 0.0, 0.4, 0.9])
    assert np.allclose(reference_matrix(moved, theta), reference_matrix(c, theta[3:]))
    with pytest.raises(qt.CircuitError, match="offset"):
        qt.ansatz.renumbered(c, -1)
