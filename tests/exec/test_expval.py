import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import (
    NonHermitianError,
    ObservableError,
    ObservableWireError,
    ParameterShapeError,
    ParameterValueError,
    ShotsError,
)
from qtrain.testing import reference_expval

C = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1).crx(0, 1, 2 * qt.P(1) + 0.3).rz(1, qt.P(0))
H = 0.5 * qt.Z(0) @ qt.Z(1) - qt.X(1)
THETA = np.array([0.1, 0.2])


def test_expval_exact_matches_reference():
    value = qt.expval(C, H, THETA)
    assert isinstance(value, float)
    assert value == pytest.approx(reference_expval(C, H, THETA), abs=1e-12)


def test_expval_batched_matches_rows():
    rows = np.array([[0.1, 0.2], [1.0, -2.0], [3.0, 0.0]])
    values = qt.expval(C, H, rows)
    assert values.shape == (3,)
    np.testing.assert_allclose(values, [qt.expval(C, H, r) for r in rows], atol=1e-13)


def test_expval_sampled_returns_estimate_and_is_reproducible():
    est = qt.expval(C, H, THETA, shots=4000, seed=5)
    assert isinstance(est, qt.Estimate)
    assert est.shots == 4000 * len(H.groups())
    assert abs(est.value - qt.expval(C, H, THETA)) < 5 * est.stderr
    assert qt.expval(C, H, THETA, shots=4000, seed=5) == est
    assert qt.expval(C, H, THETA, shots=4000, seed=6).value != est.value


def test_expval_sampled_batched_estimates():
    rows = np.array([THETA, THETA + 0.1, THETA, THETA - 0.1])
    est = qt.expval(C, H, rows, shots=100, seed=np.random.default_rng(1))
    assert est.value.shape == (4,) and est.stderr.shape == (4,)
    # identical rows are one evaluation (same content key, same numbers), charged once
    assert est.value[0] == est.value[2] and est.shots == 100 * len(H.groups()) * 3


def test_expval_circuit_without_parameters_takes_no_theta():
    assert qt.expval(qt.Circuit(1).x(0), qt.Z(0)) == -1.0
    assert qt.expval(qt.Circuit(1).x(0), qt.Z(0), []) == -1.0


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"theta": [0.1]}, ParameterShapeError, "1 value.*reads 2 parameter"),
        ({"theta": np.zeros((2, 3))}, ParameterShapeError, "3 value"),
        ({"theta": np.zeros((1, 1, 2))}, ParameterShapeError, "shape"),
        ({"theta": [0.1, np.nan]}, ParameterValueError, r"theta\[1\] is nan"),
        ({"theta": [[0.1, 0.2], [np.inf, 0]]}, ParameterValueError, r"theta\[\(1, 0\)\] is inf"),
        ({"theta": [0.1, 0.2j]}, ParameterValueError, "real"),
        ({"theta": ["a", "b"]}, ParameterValueError, "real"),
        ({"shots": 0}, ShotsError, "got 0"),
        ({"shots": -3}, ShotsError, "-3"),
        ({"shots": 2.5}, ShotsError, "2.5"),
        ({"shots": 10, "seed": -1}, ParameterValueError, "seed"),
    ],
)
def test_expval_bad_input_raises_specific_error(kwargs, error, text):
    args = {"theta": THETA} | kwargs
    with pytest.raises(error, match=text):
        qt.expval(C, H, **args)


def test_expval_observable_must_fit_circuit():
    with pytest.raises(ObservableWireError, match="wire 2 but the circuit has 2 qubit"):
        qt.expval(C, qt.Z(2), THETA)
    with pytest.raises(NonHermitianError):
        qt.expval(C, qt.X(0) @ qt.Y(0), THETA)
    with pytest.raises(ObservableError, match="Observable"):
        qt.expval(C, "Z0", THETA)
    with pytest.raises(qt.CircuitError, match="Circuit"):
        qt.expval("not a circuit", H, THETA)


def test_expval_unseeded_sampling_is_fresh_and_records_its_seed():
    circuit = qt.Circuit(1).ry(0, qt.P(0))
    estimates = [qt.expval(circuit, qt.Z(0), [0.7], shots=100) for _ in range(3)]
    assert len({e.seed for e in estimates}) == 3
    assert len({e.value for e in estimates}) > 1
    again = qt.expval(circuit, qt.Z(0), [0.7], shots=100, seed=estimates[0].seed)
    assert (again.value, again.stderr) == (estimates[0].value, estimates[0].stderr)
