"""The Dask executor against the local one: same tasks, bit-identical results."""

import numpy as np
import pytest

import qtrain as qt

C = qt.ansatz.hardware_efficient(5, 3)
H = qt.Z(0) + 0.5 * qt.X(2) @ qt.X(3)
THETA = np.random.default_rng(4).normal(size=C.n_params)


@pytest.fixture(scope="module")
def dask_executor():
    with qt.DaskExecutor(n_workers=2, max_rows=16) as executor:
        yield executor


def test_distributed_two_workers_match_local_executor(dask_executor):
    local = qt.grad(C, H, THETA, method="param-shift", shots=200, seed=8)
    remote = qt.grad(C, H, THETA, method="param-shift", shots=200, seed=8, executor=dask_executor)
    np.testing.assert_array_equal(remote.value, local.value)
    np.testing.assert_array_equal(remote.stderr, local.stderr)
    assert remote.shots == local.shots
    assert dask_executor.counters.calls >= 2  # the rows really were spread over calls
    assert len(dask_executor.client.scheduler_info()["workers"]) == 2


def test_distributed_exact_gradient_matches(dask_executor):
    exact = qt.grad(C, H, THETA, method="param-shift")
    remote = qt.grad(C, H, THETA, method="param-shift", executor=dask_executor)
    np.testing.assert_array_equal(remote.value, exact.value)


def test_distributed_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(
        qt.ExecutionError, match=r"cannot reach the Dask scheduler at 'tcp://127\.0\.0\.1:1'"
    ):
        qt.DaskExecutor("tcp://127.0.0.1:1", connect_timeout_s=1)
