"""A noisy simulator on Dask: the noise model travels to the workers, the numbers do not move.

Its own module, so that no other cluster (``test_distributed.py``'s module fixture) is alive
while this one starts.
"""

import numpy as np

import qtrain as qt


def test_distributed_noisy_simulator_gives_the_local_numbers():
    """A noise model pickles to the workers; sampled trajectories are seeded by row content,
    so rows spread over workers draw exactly what one process draws."""
    noise = (
        qt.NoiseModel()
        .after_all(qt.noise.depolarizing(0.05))
        .after("CNOT", qt.noise.amplitude_damping(0.1))
        .readout(qt.noise.readout_error(0.02, 0.04))
    )
    circuit = qt.ansatz.hardware_efficient(3, 1)
    theta = np.random.default_rng(5).normal(size=circuit.n_params)
    sampled = qt.LocalSimulator(noise=noise, method="trajectories", trajectories=10)
    exact = qt.LocalSimulator(noise=noise, method="density_matrix")
    local = qt.grad(
        circuit, qt.Z(0), theta, method="param-shift", shots=64, seed=2, backend=sampled
    )
    local_exact = qt.grad(circuit, qt.Z(0), theta, method="param-shift", backend=exact)
    with qt.DaskExecutor(backend=sampled, n_workers=2, max_rows=4) as remote:
        spread = qt.grad(
            circuit, qt.Z(0), theta, method="param-shift", shots=64, seed=2, executor=remote
        )
        assert remote.counters.calls >= 2
    with qt.DaskExecutor(backend=exact, n_workers=2, max_rows=4) as remote:
        spread_exact = qt.grad(circuit, qt.Z(0), theta, method="param-shift", executor=remote)
    np.testing.assert_array_equal(spread.value, local.value)
    np.testing.assert_array_equal(spread.stderr, local.stderr)
    # Exact rows are computed by different sweeps in different chunks: equal to rounding.
    np.testing.assert_allclose(spread_exact.value, local_exact.value, rtol=0, atol=1e-12)
