import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qtrain as qt
from qtrain.testing import reference_state
from qtrain.testing.strategies import circuits


@settings(max_examples=40, deadline=None)
@given(data=st.data(), circuit=circuits(max_qubits=5))
def test_state_and_probabilities_match_the_dense_reference(data, circuit):
    theta = data.draw(st.lists(st.floats(-3, 3), min_size=circuit.n_params,
                               max_size=circuit.n_params))  # fmt: skip
    expected = reference_state(circuit, np.array(theta))
    psi = qt.state(circuit, theta)
    assert psi.shape == (2**circuit.n_qubits,) and psi.dtype == np.complex128
    np.testing.assert_allclose(psi, expected, atol=1e-10)
    np.testing.assert_allclose(qt.probabilities(circuit, theta), np.abs(expected) ** 2, atol=1e-10)


def test_wire_zero_is_the_most_significant_bit():
    c = qt.Circuit(3).x(0)  # |100⟩
    assert int(np.argmax(qt.probabilities(c))) == 0b100
    assert qt.sample(c, shots=5, seed=0) == {"100": 5}


def test_batched_rows_give_one_state_per_row():
    c = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1)
    rows = np.array([[0.0], [np.pi], [0.7]])
    states = qt.state(c, rows)
    assert states.shape == (3, 4)
    for row, psi in zip(rows, states, strict=True):
        np.testing.assert_allclose(psi, reference_state(c, row), atol=1e-12)
    assert qt.probabilities(c, rows).shape == (3, 4)


def test_sample_is_seeded_and_reproducible():
    c = qt.Circuit(2).h(0).ry(1, qt.P(0))
    first = qt.sample(c, [0.8], shots=2000, seed=11)
    assert first == qt.sample(c, [0.8], shots=2000, seed=11)
    assert first != qt.sample(c, [0.8], shots=2000, seed=12)
    assert sum(first.values()) == 2000 and list(first) == sorted(first)
    p = qt.probabilities(c, [0.8])
    for bits, count in first.items():
        expected = 2000 * p[int(bits, 2)]
        assert abs(count - expected) < 5 * np.sqrt(expected)  # within 5σ
    batch = qt.sample(c, [[0.8], [0.1]], shots=2000, seed=11)
    assert isinstance(batch, list) and batch[0] == first  # a row alone equals row 0


def test_sample_accepts_a_generator():
    c = qt.Circuit(1).h(0)
    a = qt.sample(c, shots=100, seed=np.random.default_rng(3))
    b = qt.sample(c, shots=100, seed=np.random.default_rng(3))
    assert a == b


def test_sample_errors_name_the_bad_value():
    c = qt.Circuit(1).h(0)
    with pytest.raises(qt.ShotsError, match="got None"):
        qt.sample(c, shots=None)
    with pytest.raises(qt.ShotsError, match="got 0"):
        qt.sample(c, shots=0)
    with pytest.raises(qt.ParameterError, match="seed must be a non-negative int"):
        qt.sample(c, shots=10, seed=-1)
    with pytest.raises(qt.ParameterError, match="theta has 1 value"):
        qt.state(c, [0.3])
    with pytest.raises(qt.CircuitError, match=r"expected a qt\.Circuit, got str"):
        qt.state("H 0")


def test_a_state_too_large_is_refused_before_any_work():
    c = qt.Circuit(40).h(0)
    with pytest.raises(qt.StateTooLargeError, match="40-qubit state needs"):
        qt.state(c)
    with pytest.raises(qt.StateTooLargeError, match="40-qubit state needs"):
        qt.sample(c, shots=10)
    small = qt.Circuit(10).h(0)
    with pytest.raises(qt.StateTooLargeError, match=r"the result \(64 row\(s\)"):
        qt.state(small, np.zeros((64, 0)), memory_budget=1 << 19)
    with pytest.raises(qt.ConfigError, match="memory_budget must be a positive int"):
        qt.probabilities(small, memory_budget=0)
