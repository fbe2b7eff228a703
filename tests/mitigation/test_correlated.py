"""The correlated readout model: the full confusion matrix fixes crosstalk the tensored one cannot.

Correlated readout error is modelled as a correlated bit flip just before measurement (an
``X⊗X`` with probability ``p`` on two wires) plus independent readout errors; on
computational-basis (Z) measurements that is exactly a correlated confusion matrix.
"""

from __future__ import annotations

import numpy as np
import pytest

import qtrain as qt
from qtrain.backends.protocol import Task
from qtrain.errors import MitigationError
from qtrain.mitigation.correlated import MAX_CORRELATED_QUBITS
from qtrain.noise.readout import readout_error
from qtrain.testing.reference_noise import random_circuit

X = np.array([[0, 1], [1, 0]], dtype=complex)


def crosstalk(p: float = 0.06) -> qt.NoiseModel:
    both = np.kron(X, X)
    flip = qt.noise.kraus([np.sqrt(1 - p) * np.eye(4), np.sqrt(p) * both])
    return (
        qt.NoiseModel()
        .before_measure(flip, [0, 1])
        .readout(readout_error(0.03, 0.07), [0])
        .readout(readout_error(0.05, 0.02), [2])
    )


DIAGONAL = qt.Observable.parse("0.7 Z0 + 0.4 Z0 Z1 - 0.6 Z1 Z2 + 0.3 Z0 Z1 Z2 + 0.1")


def case(seed: int) -> tuple[qt.Circuit, np.ndarray]:
    rng = np.random.default_rng(seed)
    circuit = random_circuit(rng, 3, 8)
    return circuit, rng.uniform(-np.pi, np.pi, circuit.n_params)


@pytest.mark.parametrize("seed", range(4))
def test_the_full_matrix_removes_correlated_readout_error_exactly(seed: int) -> None:
    circuit, theta = case(seed)
    noisy = qt.LocalSimulator(noise=crosstalk())
    ideal = qt.expval(circuit, DIAGONAL, theta)
    full = qt.Mitigated(noisy, readout=qt.ReadoutMitigation(correlated=True))
    tensored = qt.Mitigated(noisy, readout=True)
    assert qt.expval(circuit, DIAGONAL, theta, backend=full) == pytest.approx(ideal, abs=1e-10)
    leftover = qt.expval(circuit, DIAGONAL, theta, backend=tensored) - ideal
    assert abs(leftover) > 1e-3  # per-qubit matrices cannot see the correlation


def test_the_full_matrix_equals_the_tensored_one_on_independent_errors() -> None:
    circuit, theta = case(9)
    errors = (
        qt.NoiseModel().readout(readout_error(0.04, 0.09)).readout(readout_error(0.08, 0.03), [1])
    )
    noisy = qt.LocalSimulator(noise=errors)
    observable = qt.Observable.parse("X0 Z1 + 0.5 Y2 - 0.3 Z0 Z2 + 0.2")
    full = qt.Mitigated(noisy, readout=qt.ReadoutMitigation(correlated=True))
    tensored = qt.Mitigated(noisy, readout=True)
    expected = qt.expval(circuit, observable, theta)
    assert qt.expval(circuit, observable, theta, backend=full) == pytest.approx(expected, abs=1e-10)
    assert qt.expval(circuit, observable, theta, backend=tensored) == pytest.approx(
        expected, abs=1e-10
    )


@pytest.mark.slow
def test_correlated_error_bars_carry_the_calibration_and_are_calibrated() -> None:
    circuit, theta = case(2)
    noisy = qt.LocalSimulator(noise=crosstalk())
    ideal = qt.expval(circuit, DIAGONAL, theta)
    z, data_only = [], []
    for seed in range(200):
        options = qt.ReadoutMitigation(correlated=True, shots=500, seed=seed)
        backend = qt.Mitigated(noisy, readout=options)
        task = Task(circuit, (DIAGONAL,), theta[None, :], 20_000, seed)
        result = backend.run([task])[0]
        assert result is not None and result.variances is not None
        data = noisy.run(backend.plan([task])[1])[0]
        assert data.variances is not None
        error = result.values[0, 0] - ideal
        z.append(error / np.sqrt(result.variances[0, 0]))
        data_only.append(error / np.sqrt(data.variances.sum()))
    assert abs(np.mean(z)) < 0.2
    assert 0.85 < np.std(z) < 1.15
    assert np.std(data_only) > 1.3  # the calibration's share is needed


def test_correlated_calibration_costs_two_to_the_n_circuits() -> None:
    backend = qt.Mitigated(qt.LocalSimulator(), readout=qt.ReadoutMitigation(correlated=True))
    task = Task(qt.Circuit(3).h(0), (qt.Z(0),), np.zeros((1, 0)), 100, 1)
    overhead = backend.overhead([task])
    assert (overhead.calibration_circuits, overhead.calibration_shots) == (8, 8 * 8192)
    result = backend.run([task])[0]
    assert result is not None and result.metadata["overhead_shots"] == 8 * 8192


def test_correlated_model_refuses_wide_circuits_and_given_calibrations() -> None:
    backend = qt.Mitigated(qt.LocalSimulator(), readout=qt.ReadoutMitigation(correlated=True))
    wide = MAX_CORRELATED_QUBITS + 1
    with pytest.raises(MitigationError, match="at most 8 qubits"):
        backend.run([Task(qt.Circuit(wide).h(0), (qt.Z(0),), np.zeros((1, 0)))])
    with pytest.raises(MitigationError, match="cannot provide it"):
        qt.ReadoutMitigation(correlated=True, calibration={0: readout_error(0.1, 0.1)})
    with pytest.raises(MitigationError, match="must be a bool"):
        qt.ReadoutMitigation(correlated="yes")  # type: ignore[arg-type]
