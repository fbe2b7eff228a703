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
