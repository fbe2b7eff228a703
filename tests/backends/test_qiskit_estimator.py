"""EstimatorV2 primitives as QiskitBackend targets: exact on Aer, precision from the shots."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")

import qtrain as qt
from qtrain.backends.protocol import Task
from qtrain.backends.qiskit import QiskitBackend
from qtrain.backends.qiskit_estimator import precisions
from qtrain.errors import DeviceCapabilityError

qiskit_aer = pytest.importorskip("qiskit_aer")
EstimatorV2 = pytest.importorskip("qiskit_aer.primitives").EstimatorV2
fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")

CIRCUIT = qt.Circuit(3).ry(0, qt.P(0)).crx(0, 2, 2 * qt.P(1) + 0.3).cx(2, 1).rz(1, qt.P(0))
OBSERVABLES = (
    qt.Observable.parse("0.4 + Z0 Z2 - 0.6 X1 + 0.3 Y2 Y0"),
    qt.Observable.parse("Z1 - 0.5 X0"),
)


def _aer_estimator(seed: int | None = None) -> QiskitBackend:
    options = {} if seed is None else {"run_options": {"seed_simulator": seed}}
    simulator = qiskit_aer.AerSimulator(method="statevector")
    return QiskitBackend(EstimatorV2.from_backend(simulator, options=options), seed_transpiler=1)


def test_an_aer_estimator_target_is_exact_and_its_gradients_equal_local() -> None:
    backend = _aer_estimator()
    assert backend.target.kind == "estimator"
    params = np.random.default_rng(3).uniform(-np.pi, np.pi, size=(5, CIRCUIT.n_params))
    got = backend.run([Task(CIRCUIT, OBSERVABLES, params)])[0]
    want = qt.LocalSimulator().run([Task(CIRCUIT, OBSERVABLES, params)])[0]
    assert got is not None and got.variances is None and got.shots == 0
    np.testing.assert_allclose(got.values, want.values, atol=1e-10)
    theta = params[0]
    remote = qt.grad(CIRCUIT, OBSERVABLES[0], theta, method="param-shift", backend=backend)
    local = qt.grad(CIRCUIT, OBSERVABLES[0], theta, method="param-shift")
    np.testing.assert_allclose(remote.value, local.value, atol=1e-10)


def test_precision_is_the_standard_error_the_shots_guarantee() -> None:
    observable = qt.Observable.parse("Z0 + 0.5 X0")  # two groups, bounds 1 and 0.5
    task = Task(qt.Circuit(2), (observable,), np.zeros((2, 0)), shots=np.array([100, 400]))
    np.testing.assert_allclose(
        precisions(task, 2)[:, 0], np.sqrt([1 / 100 + 0.25 / 100, 1 / 400 + 0.25 / 400])
    )


def test_sampled_values_from_an_estimator_carry_calibrated_error_bars() -> None:
    backend = _aer_estimator(seed=11)
    params = np.random.default_rng(5).uniform(-np.pi, np.pi, size=(400, CIRCUIT.n_params))
    result = backend.run([Task(CIRCUIT, OBSERVABLES, params, shots=500, seed=1)])[0]
    exact = qt.LocalSimulator().run([Task(CIRCUIT, OBSERVABLES, params)])[0].values
    assert result is not None and result.variances is not None
    z = (result.values - exact) / np.sqrt(result.variances)
    assert abs(z.mean()) < 0.1 and 0.92 < z.std() < 1.08  # 800 draws: ±4 standard errors
    groups = sum(len(o.groups()) for o in OBSERVABLES)
    assert result.shots == 400 * 500 * groups  # the policy's shots are what is recorded


def test_qiskit_ibm_runtimes_estimator_runs_on_a_fake_device_and_refuses_exact() -> None:
    Estimator = pytest.importorskip("qiskit_ibm_runtime.executor_estimator").Estimator
    backend = QiskitBackend(Estimator(mode=fake_provider.FakeManilaV2()), seed_transpiler=1)
    params = np.array([[0.3, -0.4], [1.2, 0.8]])
    result = backend.run([Task(CIRCUIT, OBSERVABLES, params, shots=2000, seed=2)])[0]
    ideal = qt.LocalSimulator().run([Task(CIRCUIT, OBSERVABLES, params)])[0].values
    assert result is not None and result.variances is not None
    assert np.all(np.abs(result.values - ideal) < 0.35)  # the device's noise, not a bug
    assert result.metadata["calibration_id"].startswith("fake_manila")
    with pytest.raises(DeviceCapabilityError, match="exact values need a simulator"):
        backend.run([Task(CIRCUIT, OBSERVABLES, params)])
