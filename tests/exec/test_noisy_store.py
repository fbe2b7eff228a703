"""A shared ResultStore never serves one backend's rows to a backend that differs (issue 15).

Ideal vs noisy, two noise models, density matrix vs trajectories, trajectory counts: each
backend gets exactly what it computes alone; equal backends share rows.
"""

import numpy as np
import pytest

import qtrain as qt
from qtrain.noise import amplitude_damping, depolarizing, readout_error
from qtrain.testing.reference_noise import reference_noisy_expval

C = qt.Circuit(3).ry(0, qt.P(0)).cnot(0, 1).crx(1, 2, 2 * qt.P(1) + 0.3).h(2)
H = qt.Observable.parse("0.5 Z0 Z1 - 1.2 X2 + 0.7 Y1 Y2")
ROWS = np.array([[0.3, -0.7], [1.1, 0.4], [-2.0, 2.5]])
DEPOL = qt.NoiseModel().after_all(depolarizing(0.1)).after("CNOT", amplitude_damping(0.2))
READOUT = qt.NoiseModel().readout(readout_error(0.05, 0.15))


class Counting(qt.LocalSimulator):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rows = 0

    def run(self, tasks):
        self.rows += sum(t.params.shape[0] for t in tasks)
        return super().run(tasks)


def exact(noise):
    return np.array([reference_noisy_expval(C, H, row, noise) for row in ROWS])


def test_noisy_store_ideal_and_noisy_backends_get_their_own_results(tmp_path):
    for noise in (DEPOL, READOUT):  # readout only: both run the statevector method
        for order in ("ideal first", "noisy first"):
            store = qt.ResultStore(tmp_path / f"{noise.fingerprint()[:8]}-{order}.sqlite")
            backends = {"ideal": Counting(), "noisy": Counting(noise=noise)}
            names = ["ideal", "noisy"] if order == "ideal first" else ["noisy", "ideal"]
            for name in names:
                got = qt.expval(C, H, ROWS, backend=backends[name], store=store)
                expected = exact(None if name == "ideal" else noise)
                np.testing.assert_allclose(got, expected, atol=1e-10, err_msg=f"{name}, {order}")
                assert backends[name].rows == len(ROWS), f"{name} was served the other's rows"
            for name in names:  # and each is served its own rows the second time
                again = qt.expval(C, H, ROWS, backend=backends[name], store=store)
                np.testing.assert_allclose(again, exact(None if name == "ideal" else noise))
                assert backends[name].rows == len(ROWS)
    assert np.max(np.abs(exact(DEPOL) - exact(None))) > 0.05
    assert np.max(np.abs(exact(READOUT) - exact(None))) > 0.05


def test_noisy_store_two_noise_models_get_their_own_results_and_equal_models_share(tmp_path):
    weak = qt.NoiseModel().after_all(depolarizing(0.05)).readout(readout_error(0.02, 0.02))
    strong = qt.NoiseModel().after_all(depolarizing(0.2)).readout(readout_error(0.02, 0.02))
    store = qt.ResultStore(tmp_path / "r.sqlite")
    for noise in (weak, strong):
        sim = Counting(noise=noise)
        np.testing.assert_allclose(
            qt.expval(C, H, ROWS, backend=sim, store=store), exact(noise), atol=1e-10
        )
        assert sim.rows == len(ROWS)
    rebuilt = qt.NoiseModel().after_all(depolarizing(0.05)).readout(readout_error(0.02, 0.02))
    same = Counting(noise=rebuilt, kernels="numpy", memory_budget=1 << 24)
    np.testing.assert_allclose(
        qt.expval(C, H, ROWS, backend=same, store=store), exact(weak), atol=1e-10
    )
    assert same.rows == 0  # an equal model (fingerprint) is served the stored rows


def sampled(backend, store=None):
    est = qt.expval(C, H, ROWS, shots=500, seed=7, backend=backend, store=store)
    return est.value, est.stderr


def test_noisy_store_density_matrix_and_trajectories_get_their_own_results(tmp_path):
    def make(method, trajectories=None):
        return Counting(noise=DEPOL, method=method, trajectories=trajectories)

    kinds = {
        "density_matrix": lambda: make("density_matrix"),
        "trajectories 30": lambda: make("trajectories", 30),
        "trajectories 60": lambda: make("trajectories", 60),
    }
    alone = {name: sampled(build()) for name, build in kinds.items()}
    values = [v for v, _ in alone.values()]
    assert not np.allclose(values[0], values[1]) and not np.allclose(values[1], values[2])
    store = qt.ResultStore(tmp_path / "r.sqlite")
    for name, build in kinds.items():
        sim = build()
        value, stderr = sampled(sim, store)
        np.testing.assert_array_equal(value, alone[name][0], err_msg=name)
        np.testing.assert_array_equal(stderr, alone[name][1], err_msg=name)
        assert sim.rows == len(ROWS), f"{name} was served another method's rows"
    exact_dm = Counting(noise=DEPOL, method="density_matrix")
    np.testing.assert_allclose(
        qt.expval(C, H, ROWS, backend=exact_dm, store=store), exact(DEPOL), atol=1e-10
    )
    assert exact_dm.rows == len(ROWS)  # exact rows are not the sampled ones


def test_noisy_store_gradients_through_a_shared_store(tmp_path):
    store = qt.ResultStore(tmp_path / "r.sqlite")
    theta = ROWS[0]
    ideal = qt.grad(C, H, theta, method="param-shift", store=store)
    noisy_sim = qt.LocalSimulator(noise=DEPOL)
    noisy = qt.grad(C, H, theta, method="param-shift", backend=noisy_sim, store=store)
    h = 1e-5
    expected = [
        (
            reference_noisy_expval(C, H, theta + h * e, DEPOL)
            - reference_noisy_expval(C, H, theta - h * e, DEPOL)
        )
        / (2 * h)
        for e in np.eye(2)
    ]
    np.testing.assert_allclose(noisy.value, expected, atol=1e-6)
    assert np.max(np.abs(noisy.value - ideal.value)) > 1e-2
    np.testing.assert_allclose(
        qt.grad(C, H, theta, method="param-shift", store=store).value, ideal.value, atol=1e-12
    )


def test_noisy_store_identities():
    ideal = {"backend": "local-statevector", "method": "statevector", "sampling": 2}
    assert qt.LocalSimulator().identity() == ideal
    assert qt.LocalSimulator(noise=qt.NoiseModel()).identity() == ideal  # empty = ideal
    assert qt.LocalSimulator(noise=None, method="statevector").identity() == ideal
    noisy = qt.LocalSimulator(noise=DEPOL, method="density_matrix").identity()
    assert noisy["noise"] == DEPOL.fingerprint() and noisy["method"] == "density_matrix"
    traj = [
        qt.LocalSimulator(noise=DEPOL, method="trajectories", trajectories=t).identity()
        for t in (30, 60)
    ]
    assert traj[0]["trajectories"] == 30 and traj[1]["trajectories"] == 60
    assert traj[0]["noise"] == DEPOL.fingerprint() and traj[0]["method"] == "trajectories"
    identities = [
        ideal,
        noisy,
        *traj,
        qt.LocalSimulator(noise=READOUT).identity(),
        qt.LocalSimulator(noise=DEPOL).identity(),
        qt.LocalSimulator(noise=None, method="density_matrix").identity(),
    ]
    keys = {repr(sorted(i.items())) for i in identities}
    assert len(keys) == len(identities)
    # kernels and memory budget change no number: they do not split the store
    assert (
        qt.LocalSimulator(noise=DEPOL, kernels="numpy", memory_budget=1 << 20).identity()
        == qt.LocalSimulator(noise=DEPOL).identity()
    )


@pytest.mark.parametrize("method", ["density_matrix", "trajectories"])
def test_noisy_store_sampled_rows_are_shared_by_equal_backends(tmp_path, method):
    store = qt.ResultStore(tmp_path / "r.sqlite")
    count = 30 if method == "trajectories" else None
    first = Counting(noise=DEPOL, method=method, trajectories=count)
    value, stderr = sampled(first, store)
    second = Counting(noise=DEPOL, method=method, trajectories=count, memory_budget=1 << 22)
    again = sampled(second, store)
    assert second.rows == 0
    np.testing.assert_array_equal(again[0], value)
    np.testing.assert_array_equal(again[1], stderr)
