"""Provider jobs of the real Qiskit bridge (Aer behind a spooled provider): each job's queue
and run time counted once in the executor's counters."""

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")

from qiskit_aer import AerSimulator

import qtrain as qt
from qtrain.backends.protocol import Task
from qtrain.backends.qiskit import QiskitBackend
from qtrain.exec.counters import ExecutorCounters
from qtrain.testing.spool import SpoolService


def test_jobs_of_a_real_qiskit_bridge_call_are_counted_once(tmp_path):
    aer = AerSimulator(method="statevector", max_parallel_threads=1)
    service = SpoolService(tmp_path / "spool", aer, queue_s=0.05)
    backend = QiskitBackend(service.sampler(), service=service, seed_transpiler=1, max_circuits=2)
    circuit = qt.Circuit(2).ry(0, qt.P(0)).cx(0, 1).rx(1, 2 * qt.P(1) + 0.3)
    observable = qt.Observable.parse("0.5 Z0 + 0.8 X1 - 0.3 Z0 Z1")
    theta = np.array([[0.4, -0.7], [0.9, -0.2], [-0.6, -1.7]])
    tasks = [Task(circuit, (observable,), theta + k, shots=300, seed=3 + k) for k in range(2)]
    executor = qt.Executor(backend)
    executor.run(tasks)  # one call, two tasks of three rows, at most two circuits a job
    submitted = len(service.submissions())
    assert executor.counters.jobs == submitted > executor.counters.calls == 1
    assert executor.counters.queue_s > 0  # the provider's stamps: each job was queued a while
    results = backend.run(tasks)  # the bridge's own results: metadata as it writes it
    ids = [job for result in results for job in result.metadata["job_ids"]]
    assert len(ids) == len(set(ids)) == len(service.submissions()) - submitted
    counters = ExecutorCounters()
    counters.record(results)
    assert counters.jobs == len(ids)
    assert counters.queue_s == pytest.approx(sum(r.metadata["queue_s"] for r in results))
    before = (counters.jobs, counters.queue_s, counters.execution_s)
    counters.record(results)  # the same jobs reported again (a re-read call) add nothing
    assert (counters.jobs, counters.queue_s, counters.execution_s) == before
