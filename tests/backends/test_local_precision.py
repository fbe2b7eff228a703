"""``LocalSimulator(precision=...)``: validation, store identity, memory model, bounded results."""

from __future__ import annotations

import numpy as np
import pytest

import qtrain as qt
from qtrain.app.build import local_simulator
from qtrain.app.config import LocalBackendConfig
from qtrain.backends.protocol import Task
from qtrain.grad.error_bound import adjoint_error_bound, param_shift_error_bound
from qtrain.sim.error_bound import expectation_bound
from qtrain.sim.methods import state_bytes
from qtrain.sim.program import compile_program
from qtrain.testing.reference_noise import random_circuit, random_observable


def _case(seed: int, n: int, ops: int) -> tuple[qt.Circuit, qt.Observable, np.ndarray]:
    rng = np.random.default_rng(seed)
    return random_circuit(rng, n, ops, 3), random_observable(rng, n, 3), rng.uniform(-3, 3, 3)


def test_precision_is_validated_by_name():
    with pytest.raises(qt.ConfigError, match="precision must be 'double' or 'single', got 'half'"):
        qt.LocalSimulator(precision="half")
    assert qt.LocalSimulator().precision == "double"


def test_single_refuses_noisy_methods_clearly():
    channels = qt.NoiseModel().after_all(qt.noise.depolarizing(0.01))
    message = "precision='single' supports the statevector and adjoint methods"
    with pytest.raises(qt.ConfigError, match=message):
        qt.LocalSimulator(noise=channels, precision="single")
    with pytest.raises(qt.ConfigError, match=message):
        qt.LocalSimulator(method="density_matrix", precision="single")
    readout = qt.NoiseModel().readout(qt.noise.readout_error(0.02, 0.05))
    sim = qt.LocalSimulator(noise=readout, precision="single")
    task = Task(qt.Circuit(1).ry(0, qt.P(0)), (qt.Z(0),), np.array([[0.4]]))
    got = sim.run([task])[0].values
    want = qt.LocalSimulator(noise=readout).run([task])[0].values
    assert got.dtype == np.float64
    assert 0 < abs(got - want).max() < 1e-6


def test_store_identity_separates_precisions_and_keeps_double():
    double, single = qt.LocalSimulator(), qt.LocalSimulator(precision="single")
    assert double.identity() == {
        "backend": "local-statevector",
        "method": "statevector",
        "sampling": 2,
    }
    assert single.identity() == {**double.identity(), "precision": "single"}
    readout = qt.NoiseModel().readout(qt.noise.readout_error(0.02, 0.05))
    noisy = qt.LocalSimulator(noise=readout, precision="single").identity()
    assert (
        noisy["precision"] == "single"
        and "precision" not in qt.LocalSimulator(noise=readout).identity()
    )


def test_single_halves_bytes_per_row_and_fits_where_double_does_not():
    circuit = qt.Circuit(12).h(0)
    budget = state_bytes(12) - 1
    single = qt.LocalSimulator(budget, precision="single")
    assert single.choose(circuit, True).bytes_per_row * 2 == state_bytes(12)
    with pytest.raises(qt.StateTooLargeError):
        qt.LocalSimulator(budget).choose(circuit, True)
    task = Task(circuit, (qt.X(0),), np.zeros((3, 0)))
    assert single.run([task])[0].values == pytest.approx(np.ones((3, 1)), abs=1e-6)
    # chunks counted with 8-byte amplitudes: half the rows per chunk, half the chunks
    rows = Task(qt.Circuit(10).ry(0, qt.P(0)), (qt.Z(0),), np.linspace(0, 1, 40)[:, None])
    small = state_bytes(10) * 4
    double_steps = qt.LocalSimulator(small).work(rows)["sv.step"]
    assert qt.LocalSimulator(small, precision="single").work(rows)["sv.step"] < double_steps


@pytest.mark.parametrize("kernels", ["numpy", "numba"])
@pytest.mark.parametrize(("n", "ops"), [(3, 40), (6, 80), (9, 50)])
def test_single_gradients_stay_within_their_bounds(kernels, n, ops):
    double = qt.LocalSimulator(kernels=kernels)
    single = qt.LocalSimulator(kernels=kernels, precision="single")
    errors = []
    for seed in range(3):
        circuit, observable, theta = _case(seed, n, ops)
        exact = qt.grad(circuit, observable, theta, method="adjoint", backend=double).value
        for method, bound in (
            ("adjoint", adjoint_error_bound(circuit, observable)),
            ("param-shift", param_shift_error_bound(circuit, observable, theta)),
        ):
            got = qt.grad(circuit, observable, theta, method=method, backend=single).value
            assert got.dtype == np.float64
            slack = 1e-12  # the double reference's own error, far below single's bound
            assert np.all(np.abs(got - exact) <= bound + slack), method
            assert bound.max() < 0.05  # not vacuous: derivatives here reach O(1)
            errors.append(np.abs(got - exact).max(initial=0.0))
    assert max(errors) > 1e-9  # single really ran in single


@pytest.mark.parametrize("shots", [None, 200])
def test_single_values_are_float64_and_bounded(shots):
    circuit, observable, _ = _case(4, 7, 60)
    theta = np.random.default_rng(4).uniform(-3, 3, (5, 3))
    task = Task(circuit, (observable,), theta, shots=shots, seed=11)
    got = qt.LocalSimulator(precision="single").run([task])[0]
    want = qt.LocalSimulator().run([task])[0]
    assert got.values.dtype == np.float64
    if shots is None:
        bound = expectation_bound(compile_program(circuit, "single"), observable, "single")
        assert np.abs(got.values - want.values).max() <= bound + 1e-12
        assert np.abs(got.values - want.values).max() > 0
    else:  # the same seeded draws from probabilities 1e-7 apart: the same counts here
        assert got.variances is not None and got.variances.dtype == np.float64
        np.testing.assert_array_equal(got.values, want.values)


def test_config_key_builds_a_single_precision_simulator():
    spec = LocalBackendConfig(precision="single")
    assert local_simulator(spec).precision == "single"
    assert LocalBackendConfig().precision == "double"
    with pytest.raises(ValueError, match="'single' supports the statevector and adjoint methods"):
        LocalBackendConfig(method="density_matrix", precision="single")
