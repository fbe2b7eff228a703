"""A mitigated backend on Dask and with a store: the numbers do not move, nothing is paid twice.

Its own module, so that no other cluster is alive while this one starts.
"""

import numpy as np

import qtrain as qt


def mitigated() -> qt.Mitigated:
    noise = (
        qt.NoiseModel()
        .after_all(qt.noise.depolarizing(0.03))
        .readout(qt.noise.readout_error(0.03, 0.06))
    )
    return qt.Mitigated(
        qt.LocalSimulator(noise=noise, method="density_matrix"),
        readout=qt.ReadoutMitigation(shots=2000, seed=11),  # seeded: every worker measures alike
        zne=qt.ZNE(factors=(1, 3), extrapolation="linear"),
    )


def test_distributed_mitigated_gradient_gives_the_local_numbers():
    circuit = qt.ansatz.hardware_efficient(3, 1)
    hamiltonian = qt.Observable.parse("Z0 Z1 + 0.5 X2 - 0.2")
    theta = np.random.default_rng(5).normal(size=circuit.n_params)
    local = qt.grad(circuit, hamiltonian, theta, shots=400, seed=2, backend=mitigated())
    with qt.DaskExecutor(backend=mitigated(), n_workers=2, max_rows=4) as remote:
        spread = qt.grad(circuit, hamiltonian, theta, shots=400, seed=2, executor=remote)
        assert remote.counters.calls >= 2
        # measured once, in this process, before the call spread over the workers
        assert remote.counters.overhead_shots == 2 * 3 * 2000
    np.testing.assert_array_equal(spread.value, local.value)
    np.testing.assert_array_equal(spread.stderr, local.stderr)


def test_a_store_serves_mitigated_rows_without_spending_again(tmp_path):
    circuit = qt.ansatz.hardware_efficient(2, 1)
    theta = np.random.default_rng(6).normal(size=circuit.n_params)
    store = qt.ResultStore(tmp_path / "store.sqlite")
    first = qt.expval(circuit, qt.Z(0), theta, shots=1000, seed=3, backend=mitigated(), store=store)
    again = qt.expval(circuit, qt.Z(0), theta, shots=1000, seed=3, backend=mitigated(), store=store)
    assert isinstance(first, qt.Estimate) and isinstance(again, qt.Estimate)
    assert (again.value, again.stderr, again.shots) == (first.value, first.stderr, 0)
    plain = qt.expval(circuit, qt.Z(0), theta, shots=1000, seed=3, store=store)
    assert isinstance(plain, qt.Estimate) and plain.shots == 1000  # other identity: not shared
