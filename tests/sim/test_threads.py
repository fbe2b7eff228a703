"""The thread knob: validated, applied in every calling thread, and invisible in the results.

Statevector, density-matrix and trajectory results are bit-identical at 1 and 2 threads (each
amplitude is computed by the same arithmetic on whichever thread gets it). The adjoint sweep
sums its partial derivatives per piece of the state, and the number of pieces follows the
thread count, so its gradients agree to rounding (1e-12), not bit for bit.
"""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import qtrain as qt
from qtrain.sim import statevector, threads

nb = pytest.importorskip("numba")
POOL = nb.config.NUMBA_NUM_THREADS
TWO = min(2, POOL)


@pytest.fixture(autouse=True)
def default_threads(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    statevector.select_kernels("numba")  # loaded, so the setting reaches the kernels
    yield
    monkeypatch.delenv(threads.ENV, raising=False)
    threads.set_num_threads(None)


def at_threads(count, fn):
    qt.set_num_threads(count)
    try:
        return fn()
    finally:
        qt.set_num_threads(None)


@pytest.mark.parametrize("bad", ["0", "-2", "1.5", "two"])
def test_threads_bad_environment_value_is_a_config_error(monkeypatch, bad):
    monkeypatch.setenv(threads.ENV, bad)
    with pytest.raises(qt.ConfigError, match="QTRAIN_NUM_THREADS") as info:
        threads.requested()
    assert repr(bad) in str(info.value)


def test_threads_bad_environment_value_does_not_fall_back_to_numpy(monkeypatch):
    monkeypatch.setenv(threads.ENV, "many")
    with pytest.raises(qt.ConfigError, match=r"QTRAIN_NUM_THREADS.*'many'"):
        statevector.select_kernels.__wrapped__("auto")


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_threads_set_num_threads_rejects_bad_values(bad):
    with pytest.raises(qt.ConfigError, match="QTRAIN_NUM_THREADS") as info:
        qt.set_num_threads(bad)
    assert repr(bad) in str(info.value)


def test_threads_set_num_threads_takes_a_digit_string_like_the_environment():
    qt.set_num_threads("3")
    assert qt.get_num_threads() == min(3, POOL)


def test_threads_environment_sets_the_count_and_is_capped_at_numbas_pool(monkeypatch):
    monkeypatch.setenv(threads.ENV, "1")
    assert qt.get_num_threads() == 1
    monkeypatch.setenv(threads.ENV, str(POOL + 5))
    assert qt.get_num_threads() == POOL
    qt.set_num_threads(1)  # the call wins over the environment
    assert qt.get_num_threads() == 1


def test_threads_setting_reaches_kernels_called_from_other_threads():
    # numba's count is per thread: a thread started later has numba's default until the
    # kernels apply the knob in it.
    seen = []

    def worker():
        rows = np.random.default_rng(0).normal(size=(16, 20))  # distinct rows: 2^14 amplitudes
        qt.expval(qt.ansatz.hardware_efficient(10, 1), qt.Z(0), rows)
        seen.append(nb.get_num_threads())

    at_threads(1, lambda: [t.start() or t.join() for t in [threading.Thread(target=worker)]])
    assert seen == [1]


def test_threads_statevector_results_are_bit_identical_at_one_and_two_threads():
    circuit = qt.ansatz.hardware_efficient(19, 1)  # one state of 2^19 amplitudes: parallel
    theta = np.random.default_rng(1).normal(size=circuit.n_params)
    batch = qt.ansatz.hardware_efficient(10, 2)  # 64 rows of 2^10: parallel, batched
    rows = np.random.default_rng(2).normal(size=(64, batch.n_params))
    h = qt.Z(0) @ qt.Z(3) + 0.5 * qt.X(1)
    runs = [
        at_threads(
            count,
            lambda: (qt.state(circuit, theta), qt.expval(batch, h, rows)),
        )
        for count in (1, TWO)
    ]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_threads_adjoint_and_param_shift_gradients_agree_at_one_and_two_threads():
    circuit = qt.ansatz.hardware_efficient(18, 1)  # [ψ; λ] of 2^18: the parallel adjoint
    theta = np.random.default_rng(3).normal(size=circuit.n_params)
    h = qt.Z(0) + qt.Z(17)
    adjoint = [
        at_threads(count, lambda: qt.grad(circuit, h, theta, method="adjoint").value)
        for count in (1, TWO)
    ]
    np.testing.assert_allclose(adjoint[0], adjoint[1], rtol=0, atol=1e-12)
    small = qt.ansatz.hardware_efficient(9, 2)  # 73 shifted rows of 2^9: parallel
    rows = np.random.default_rng(4).normal(size=small.n_params)
    shift = [
        at_threads(count, lambda: qt.grad(small, qt.Z(0) + qt.Z(8), rows).value)
        for count in (1, TWO)
    ]
    np.testing.assert_array_equal(shift[0], shift[1])


@pytest.mark.parametrize("method", ["density_matrix", "trajectories"])
def test_threads_noisy_results_are_bit_identical_at_one_and_two_threads(method):
    noise = qt.NoiseModel().after_all(qt.noise.depolarizing(0.02))
    extra = {"trajectories": 50} if method == "trajectories" else {}
    sim = qt.LocalSimulator(noise=noise, method=method, **extra)
    circuit = qt.ansatz.hardware_efficient(7, 1)  # ρ of 2^14 amplitudes per row: parallel
    rows = np.random.default_rng(5).normal(size=(16, circuit.n_params))
    shots = 1000 if method == "trajectories" else None

    def run():
        return qt.expval(circuit, qt.Z(0) @ qt.Z(6), rows, backend=sim, shots=shots, seed=7)

    one, two = at_threads(1, run), at_threads(TWO, run)
    if shots:
        np.testing.assert_array_equal(one.value, two.value)
    else:
        np.testing.assert_array_equal(one, two)


def test_threads_worker_environment_shares_the_knob(monkeypatch):
    assert set(threads.worker_environment(2).values()) == {"1"}  # unset: one thread each
    monkeypatch.setenv(threads.ENV, "8")
    env = threads.worker_environment(2)
    assert env[threads.ENV] == env["NUMBA_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "4"
    assert threads.worker_environment(16)[threads.ENV] == "1"
    qt.set_num_threads(6)
    assert threads.worker_environment(3)["OMP_NUM_THREADS"] == "2"


def test_threads_blas_variables_follow_the_knob_unless_set(monkeypatch):
    for name in threads.BLAS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "7")
    monkeypatch.setenv(threads.ENV, "3")
    threads.set_blas_environment()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "3"
    assert os.environ["MKL_NUM_THREADS"] == "7"  # the user's own setting stays


def test_threads_import_sets_blas_variables_before_numpy_loads():
    code = (
        "import os, sys\n"
        "import qtrain.sim.threads\n"  # runs qtrain/__init__, which loads it first
        "print(os.environ.get('OPENBLAS_NUM_THREADS'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in threads.BLAS_ENV}
    env[threads.ENV] = "1"
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "1"
    order = [line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()]
    assert order.index("qtrain.sim.threads") < order.index("numpy")
