"""Validation: only numbers a quantum state can give are used."""

import numpy as np
import pytest

import qtrain as qt
from qtrain.backends.protocol import Result, Task
from qtrain.exec.validation import Chunk, bounds, invalid_reason

H = qt.Observable.parse("1.5 + 0.5 Z0 Z1 - 1.2 X1 + 0.7 Y0 Y2")  # groups {X1, Y0 Y2}, {Z0 Z1}
C = qt.ansatz.hardware_efficient(3, 1)


def chunk(task):
    return Chunk(task, np.arange(task.params.shape[0]), task.shot_matrix())


def result(values, variances=None, shots=0):
    return Result(np.array(values, dtype=float), variances, shots)


def test_validation_bounds_are_the_spectrum_reach_and_group_spreads():
    b = bounds((H, qt.Z(0), 3.0 * qt.I()))
    np.testing.assert_allclose(b.center, [1.5, 0.0, 3.0])
    np.testing.assert_allclose(b.limit, [2.4, 1.0, 0.0], atol=1e-8)
    np.testing.assert_allclose(b.group_squares, [1.9**2, 0.5**2, 1.0])
    shots = np.array([[10, 10, 5]])
    expected = [(1.9**2 + 0.5**2) / 9, 1 / 4, 0.0]
    np.testing.assert_allclose(b.max_variances(shots)[0], expected, rtol=1e-8, atol=1e-11)


def test_validation_rejects_values_outside_the_spectrum_and_keeps_the_extremes():
    task = Task(C, (H,), np.zeros((2, C.n_params)))
    assert invalid_reason(chunk(task), result([[1.5 + 2.4], [1.5 - 2.4]])) == ""
    reason = invalid_reason(chunk(task), result([[0.0], [1.5 + 2.4 + 1e-6]]))
    assert "value 3.900001 (row 1, observable 0) outside" in reason
    assert invalid_reason(chunk(task), result([[np.inf], [0.0]])) == "non-finite values"
    unbounded = invalid_reason(chunk(task), result([[9.0], [0.0]]), bounded=False)
    assert unbounded == ""


def test_validation_rejects_variances_above_their_maximum():
    task = Task(qt.Circuit(1).h(0), (qt.Z(0),), np.zeros((1, 0)), 11, 0)
    values, spent = [[0.0]], 11
    at_max = invalid_reason(chunk(task), result(values, np.array([[0.1]]), spent))
    assert at_max == ""  # ±1 half and half: m₂ = 1, 1 / (11 − 1)
    reason = invalid_reason(chunk(task), result(values, np.array([[0.1 + 1e-6]]), spent))
    assert reason.startswith("variance 0.100001 (row 0, observable 0) above the 0.1")
    negative = invalid_reason(chunk(task), result(values, np.array([[-1e-3]]), spent))
    assert negative == "bad variances"


@pytest.mark.parametrize("seed", range(5))
def test_validation_accepts_every_sampled_result(seed):
    rng = np.random.default_rng(seed)
    rows = rng.uniform(-np.pi, np.pi, size=(64, C.n_params))
    shots = rng.integers(1, 6, size=(64, 3))  # few shots: spreads near their maximum
    task = Task(C, (H, qt.Z(1)), rows, shots, seed)
    assert task.n_groups == 3
    assert invalid_reason(chunk(task), qt.LocalSimulator().run([task])[0]) == ""
