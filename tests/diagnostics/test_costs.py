import numpy as np
import pytest

import qtrain as qt
from qtrain.diagnostics.costs import cost_label, global_cost, local_cost, resolve_cost
from qtrain.testing import reference_observable_matrix, reference_state


def random_state_circuit(n, seed):
    return qt.ansatz.strongly_entangling(n, 2), np.random.default_rng(seed).uniform(0, 6, 6 * n)


@pytest.mark.parametrize("target", [None, "101"])
def test_global_cost_is_one_minus_the_fidelity_with_the_target(target):
    n = 3
    circuit, theta = random_state_circuit(n, 1)
    psi = reference_state(circuit, theta)
    index = 0 if target is None else int(target, 2)  # wire 0 is the most significant bit
    expected = 1 - abs(psi[index]) ** 2
    assert qt.expval(circuit, global_cost(n, target), theta) == pytest.approx(expected, abs=1e-12)
    projector = np.eye(8) - reference_observable_matrix(global_cost(n, target), n)
    assert np.allclose(np.diag(np.diag(projector)), projector)  # diagonal
    assert global_cost(n, target).n_terms == 8 and len(global_cost(n).groups()) == 1


def test_local_cost_averages_single_qubit_projectors():
    n = 4
    circuit, theta = random_state_circuit(n, 2)
    psi = reference_state(circuit, theta)
    probs = np.abs(psi) ** 2
    bits = (np.arange(16)[:, None] >> (n - 1 - np.arange(n))) & 1
    target = np.array([0, 1, 1, 0])
    overlap = np.mean([probs[bits[:, i] == target[i]].sum() for i in range(n)])
    value = qt.expval(circuit, local_cost(n, "0110"), theta)
    assert value == pytest.approx(1 - overlap, abs=1e-12)
    assert str(local_cost(1)) == "0.5 - 0.5 Z0"


def test_global_cost_is_practical_at_14_qubits():
    """2¹⁴ Z strings: one group, eigenvalues by the Walsh–Hadamard path; analytic product value."""
    n = 14
    cost = global_cost(n)
    assert cost.n_terms == 1 << n and len(cost.groups()) == 1
    theta = np.random.default_rng(3).uniform(0, 2 * np.pi, n)
    circuit = qt.Circuit(n)
    for q in range(n):
        circuit = circuit.ry(q, qt.P(q))
    expected = 1 - np.prod(np.cos(theta / 2) ** 2)
    assert qt.expval(circuit, cost, theta) == pytest.approx(expected, abs=1e-12)
    assert global_cost(n) is cost  # cached


def test_resolve_cost_and_labels():
    assert resolve_cost("local", 3) == local_cost(3)
    assert resolve_cost(qt.Z(0), 3) == qt.Z(0)
    assert resolve_cost(lambda n: qt.Z(n - 1), 3) == qt.Z(2)
    assert cost_label("global") == "global" and cost_label(qt.Z(0) @ qt.Z(1)) == "Z0 Z1"
    assert cost_label(global_cost(6)).startswith("observable ")
    with pytest.raises(qt.ConfigError, match="unknown cost 'glob'; choose one of global, local"):
        resolve_cost("glob", 2)
    with pytest.raises(qt.ConfigError, match="got int"):
        resolve_cost(lambda n: 3, 2)
    with pytest.raises(qt.ConfigError, match="string of 2 bits"):
        global_cost(2, "012")
