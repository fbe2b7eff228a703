"""The Dask executor against the local one: same tasks, bit-identical results."""

import os
import sys

import cloudpickle
import dask
import distributed  # noqa: F401  # its config defaults must be loaded before dask.config.set
import numpy as np
import pytest

import qtrain as qt
from qtrain.exec.distributed import worker_memory_budget

C = qt.ansatz.hardware_efficient(5, 3)
H = qt.Z(0) + 0.5 * qt.X(2) @ qt.X(3)
THETA = np.random.default_rng(4).normal(size=C.n_params)

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests


class KillsItsWorkerOnce(qt.LocalSimulator):
    """Ends the worker process running its first call (a flag file makes it once)."""

    def __init__(self, flag):
        super().__init__()
        self.flag = str(flag)

    def run(self, tasks):
        if not os.path.exists(self.flag):
            with open(self.flag, "w") as marker:
                marker.write(str(os.getpid()))
            os._exit(1)  # the worker dies mid-task, as on an out-of-memory kill
        return super().run(tasks)


@pytest.fixture(scope="module")
def dask_executor():
    # No rescheduling by Dask itself: a worker lost mid-task reaches the client as KilledWorker.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
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


def test_distributed_simulators_take_their_workers_share_of_memory(dask_executor):
    workers = dask_executor.client.scheduler_info()["workers"]
    budgets = dask_executor.client.run(worker_memory_budget)
    expected = {
        address: int(os.environ.get("QTRAIN_MEMORY_BUDGET") or info["memory_limit"] // 2)
        for address, info in workers.items()
    }
    assert budgets == expected
    share = min(expected.values())
    n = int(np.ceil(np.log2(share / 64))) + 1  # 64 B per amplitude: just past the share
    with pytest.raises(qt.StateTooLargeError, match=f"the memory budget is {share} bytes"):
        qt.expval(qt.Circuit(n).h(0), qt.Z(0), executor=dask_executor)


def test_distributed_worker_lost_mid_task_is_retried(dask_executor, tmp_path, monkeypatch):
    flag = tmp_path / "killed"
    monkeypatch.setattr(dask_executor, "backend", KillsItsWorkerOnce(flag))
    retry = qt.RetryPolicy(attempts=3, initial_s=0.01, max_s=0.01, jitter_s=0)
    monkeypatch.setattr(dask_executor, "retry", retry)
    n = dask_executor.counters
    before = (n.calls, n.retried)
    value = qt.expval(C, H, THETA, executor=dask_executor)
    assert flag.exists() and int(flag.read_text()) != os.getpid()  # a worker did die
    assert value == qt.expval(C, H, THETA)
    assert (n.calls - before[0], n.retried - before[1]) == (2, 1)
    dask_executor.client.wait_for_workers(2, timeout=60)  # the nanny restarts it


def test_distributed_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(
        qt.ExecutionError, match=r"cannot reach the Dask scheduler at 'tcp://127\.0\.0\.1:1'"
    ):
        qt.DaskExecutor("tcp://127.0.0.1:1", connect_timeout_s=1)
