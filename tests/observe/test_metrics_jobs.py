"""Provider jobs in the executor's counters: each job's queue and run time counted once, and
``qtrain_exec_jobs_total`` beside them, so that queue wait per job is a ratio of two rates."""

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

import qtrain as qt
from qtrain.backends.protocol import Result
from qtrain.exec.counters import ExecutorCounters
from qtrain.observe.metrics import MetricsTracker


def bridge_result(job_ids, queue_s, execution_s):
    """A result with the metadata ``QiskitBackend`` gives: its jobs and their summed times."""
    metadata = {"backend": "ibm_a", "job_ids": list(job_ids), "rows": 1}
    metadata |= {"queue_s": queue_s, "execution_s": execution_s, "seconds": queue_s + 1.0}
    return Result(np.zeros((1, 1)), np.zeros((1, 1)), 100, metadata)


def test_each_job_is_counted_once_however_many_results_name_it():
    counters = ExecutorCounters()
    # two tasks of one call: a task's times are the sums over its jobs (60 + 40, 60 + 40)
    counters.record(
        [bridge_result(["j1", "j2"], 100.0, 8.0), bridge_result(["j1", "j2"], 100.0, 8.0)]
    )
    assert (counters.jobs, counters.queue_s, counters.execution_s) == (2, 100.0, 8.0)
    counters.record([bridge_result(["j3"], 30.0, 2.0)])  # a new job in a later call
    assert (counters.jobs, counters.queue_s, counters.execution_s) == (3, 130.0, 10.0)
    counters.record([bridge_result(["j3"], 30.0, 2.0)])  # the same job's result read again
    assert (counters.jobs, counters.queue_s, counters.execution_s) == (3, 130.0, 10.0)
    # a result naming one counted and one new job adds the new job's share
    counters.record([bridge_result(["j3", "j4"], 50.0, 4.0)])
    assert (counters.jobs, counters.queue_s, counters.execution_s) == (4, 155.0, 12.0)
    assert "job_ids" not in counters.snapshot() and counters.snapshot()["jobs"] == 4


def test_results_without_job_ids_are_one_job_each_when_timed_and_none_otherwise():
    counters = ExecutorCounters()
    timed = Result(np.zeros((1, 1)), None, 0, {"queue_s": 5.0, "execution_s": 1.0})
    local = Result(np.zeros((1, 1)), None, 0, {"backend": "local", "method": "statevector"})
    counters.record([timed, timed, local])
    assert (counters.jobs, counters.queue_s, counters.execution_s) == (2, 10.0, 2.0)


def test_the_mean_wait_per_job_is_a_ratio_of_two_exported_counters():
    executor = qt.Executor(qt.LocalSimulator())
    executor.counters.record([bridge_result([f"j{i}", f"k{i}"], 240.0, 6.0) for i in range(3)])
    executor.counters.record([bridge_result(["j0", "k0"], 240.0, 6.0)])  # read again
    executor.counters.calls += 2
    tracker = MetricsTracker(run_id="jobs", executor=executor)
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(tracker.render())
        for sample in family.samples
    }
    assert samples["qtrain_exec_jobs_total"] == 6
    assert samples["qtrain_exec_queue_seconds_total"] == 720.0
    assert samples["qtrain_exec_execution_seconds_total"] == 18.0
    # what QtrainQueueWaitHigh divides: 120 s per job (per call it would read 360 s)
    ratio = samples["qtrain_exec_queue_seconds_total"] / samples["qtrain_exec_jobs_total"]
    assert ratio == 120.0
