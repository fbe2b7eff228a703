import threading

import numpy as np
import pytest

import qtrain as qt
from qtrain.backends.protocol import BackendLimits, Task
from qtrain.errors import InvalidResultError

C = qt.ansatz.hardware_efficient(3, 2).crx(0, 2, qt.P(1))
H = qt.Observable.parse("0.5 Z0 Z1 - 1.2 X1 + 0.7 Y0 Y2")
THETA = np.random.default_rng(0).normal(size=C.n_params)
FAST = qt.RetryPolicy(attempts=60, initial_s=1e-4, max_s=1e-3, jitter_s=1e-4)


class Counting(qt.LocalSimulator):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rows = 0

    def run(self, tasks):
        self.rows += sum(t.params.shape[0] for t in tasks)
        return super().run(tasks)


def faulty(**rates):
    return qt.FaultyBackend(qt.LocalSimulator(), seed=11, **rates)


def test_executor_faults_give_bit_identical_gradients_and_counters_add_up():
    reference = qt.grad(C, H, THETA, method="param-shift", shots=300, seed=5)
    executor = qt.Executor(
        faulty(failure_rate=0.3, throttle_rate=0.1, partial_rate=0.3, retry_after_s=1e-3),
        retry=FAST,
    )
    g = qt.grad(C, H, THETA, method="param-shift", shots=300, seed=5, executor=executor)
    np.testing.assert_array_equal(g.value, reference.value)
    np.testing.assert_array_equal(g.stderr, reference.stderr)
    assert g.shots == reference.shots
    n = executor.counters
    assert n.retried > 0 and n.failed > 0 and n.throttled >= 0
    assert n.submitted == n.succeeded + n.failed
    assert n.succeeded == g.n_circuits and n.calls == n.retried + 1
    assert len(n.latencies_s) == n.calls


def test_executor_rejects_corrupted_results_and_reruns_them():
    executor = qt.Executor(faulty(corrupt_rate=0.5), retry=FAST)
    exact = qt.grad(C, H, THETA, method="param-shift")
    g = qt.grad(C, H, THETA, method="param-shift", executor=executor)
    np.testing.assert_array_equal(g.value, exact.value)
    assert executor.counters.failed > 0


def test_executor_permanent_failure_names_missing_rows_and_returns_nothing():
    doomed = qt.FaultyBackend(
        qt.LocalSimulator(), seed=1, permanent=lambda task: task.params.shape[0] > 0
    )
    executor = qt.Executor(doomed, retry=qt.RetryPolicy(attempts=3, initial_s=1e-4, max_s=1e-4))
    with pytest.raises(qt.IncompleteResultError, match="no partial result") as info:
        qt.grad(C, H, THETA, method="param-shift", executor=executor)
    assert len(info.value.missing) > 0 and executor.counters.calls == 3


def test_executor_store_serves_finished_rows_without_rerunning(tmp_path):
    store = qt.ResultStore(tmp_path / "results.sqlite")
    first_backend = Counting()
    first = qt.grad(
        C,
        H,
        THETA,
        method="param-shift",
        shots=100,
        seed=2,
        executor=qt.Executor(first_backend, store=store),
    )
    assert first_backend.rows == first.n_circuits and len(store) == first.n_circuits
    second_backend = Counting()
    executor = qt.Executor(second_backend, store=store)
    second = qt.grad(C, H, THETA, method="param-shift", shots=100, seed=2, executor=executor)
    np.testing.assert_array_equal(second.value, first.value)
    assert second_backend.rows == 0 and second.shots == 0  # nothing run, nothing spent
    assert executor.counters.cached == first.n_circuits


def test_executor_deduplicates_identical_rows():
    executor = qt.Executor(Counting())
    rows = np.array([THETA, THETA, THETA + 1])
    qt.expval(C, H, rows, executor=executor)
    assert executor.backend.rows == 2 and executor.counters.deduplicated == 1


def test_executor_timeouts_are_retried():
    slow = faulty(timeout_rate=0.5, hang_s=0.3)
    policy = qt.RetryPolicy(attempts=20, initial_s=1e-4, max_s=1e-3, timeout_s=0.1)
    g = qt.grad(C, H, THETA, method="param-shift", executor=qt.Executor(slow, retry=policy))
    np.testing.assert_allclose(g.value, qt.grad(C, H, THETA, method="adjoint").value, atol=1e-10)


def test_executor_chunks_to_backend_row_limit():
    class Small(Counting):
        @property
        def limits(self):
            return BackendLimits(max_rows=3)

        def run(self, tasks):
            assert all(t.params.shape[0] <= 3 for t in tasks)
            return super().run(tasks)

    g = qt.grad(C, H, THETA, method="param-shift", executor=qt.Executor(Small()))
    np.testing.assert_allclose(g.value, qt.grad(C, H, THETA, method="adjoint").value, atol=1e-10)


def test_executor_bad_backends_and_limits_are_clear_errors():
    class Short(qt.LocalSimulator):
        def run(self, tasks):
            return super().run(tasks)[:-1]

    with pytest.raises(InvalidResultError, match="returned 0 result"):
        qt.expval(C, H, THETA, executor=qt.Executor(Short()))

    class Capped(qt.LocalSimulator):
        @property
        def limits(self):
            return BackendLimits(max_shots=100, max_qubits=2)

    with pytest.raises(qt.StateTooLargeError, match="at most 2 qubits"):
        qt.expval(C, H, THETA, executor=qt.Executor(Capped()))
    with pytest.raises(qt.ShotsError, match="limit of 100"):
        qt.expval(qt.Circuit(1).h(0), qt.Z(0), shots=1000, executor=qt.Executor(Capped()))
    with pytest.raises(qt.ConfigError, match="either executor"):
        qt.expval(C, H, THETA, executor=qt.Executor(Capped()), backend=qt.LocalSimulator())


def test_executor_resubmits_only_chunks_without_a_valid_result():
    rows = np.random.default_rng(4).normal(size=(12, C.n_params))
    executor = qt.Executor(
        faulty(partial_rate=0.4, corrupt_rate=0.2), retry=FAST, max_rows=2, tasks_per_call=3
    )
    values = qt.expval(C, H, rows, executor=executor)
    np.testing.assert_allclose(values, [qt.expval(C, H, r) for r in rows], atol=1e-12)
    n = executor.counters
    assert n.failed > 0 and n.retried > 0
    assert n.succeeded == len(rows) and n.submitted == n.succeeded + n.failed


def test_executor_same_numbers_with_duplicates_across_tasks_and_a_store(tmp_path):
    rows = np.random.default_rng(5).normal(size=(4, C.n_params))
    tasks = [Task(C, (H,), rows[[0, 1, 2]], 200, 9), Task(C, (H,), rows[[2, 3, 0]], 200, 9)]
    reference = qt.LocalSimulator().run(tasks)
    executor = qt.Executor(Counting(), store=qt.ResultStore(tmp_path / "s.sqlite"), max_rows=2)
    first = executor.run(tasks)
    assert executor.backend.rows == 4 and executor.counters.deduplicated == 2
    per_row = 200 * tasks[0].n_groups
    assert [r.shots for r in first] == [3 * per_row, per_row]  # a shared row: charged once
    again = qt.Executor(Counting(), store=qt.ResultStore(tmp_path / "s.sqlite")).run(tasks)
    for a, b, c in zip(reference, first, again, strict=True):
        np.testing.assert_array_equal(b.values, a.values)
        np.testing.assert_array_equal(b.variances, a.variances)
        np.testing.assert_array_equal(c.values, a.values)
        np.testing.assert_array_equal(c.variances, a.variances)
    assert [r.metadata["cached_rows"] for r in again] == [3, 3] and again[0].shots == 0


def test_executor_store_shared_by_drifting_and_clean_backends_keeps_their_rows_apart(tmp_path):
    store = qt.ResultStore(tmp_path / "shared.sqlite")
    clean = qt.expval(C, H, THETA, executor=qt.Executor(qt.LocalSimulator(), store=store))
    drifting = faulty(drift_per_call=0.5)
    biased = qt.expval(C, H, THETA, executor=qt.Executor(drifting, store=store))
    assert drifting.calls == 1 and biased == pytest.approx(clean + 0.5, abs=1e-12)
    again = faulty(drift_per_call=0.5)  # the same configuration: its stored row is a hit
    executor = qt.Executor(again, store=store)
    assert qt.expval(C, H, THETA, executor=executor) == biased
    assert again.calls == 0 and executor.counters.cached == 1
    sim = Counting()  # and the simulator still gets its own row back
    assert qt.expval(C, H, THETA, executor=qt.Executor(sim, store=store)) == clean
    assert sim.rows == 0 and len(store) == 2


def hanging(**profile):
    return qt.FaultyBackend(qt.LocalSimulator(), seed=0, timeout_rate=1.0, **profile)


def test_executor_timed_out_calls_do_not_starve_later_attempts():
    backend = hanging(hang_s=0.5)
    policy = qt.RetryPolicy(attempts=3, initial_s=1e-4, max_s=1e-4, jitter_s=0, timeout_s=0.02)
    executor = qt.Executor(backend, retry=policy)
    task = Task(C, (H,), np.array([THETA, THETA + 1]), 100, 1)
    threads = threading.active_count()
    with pytest.raises(qt.IncompleteResultError):
        executor.run([task])
    assert backend.calls == 3  # every attempt reached the backend
    assert threading.active_count() <= threads + 3  # one thread per call still hanging
    n = executor.counters
    assert n.abandoned == 3 and n.calls == 3
    assert executor.wait_abandoned(timeout_s=60) == 0
    assert threading.active_count() <= threads
    assert n.abandoned_shots == 3 * 2 * 100 * task.n_groups and n.recovered == 3 * 2


def test_executor_stores_valid_rows_of_abandoned_calls_and_charges_them(tmp_path):
    store = qt.ResultStore(tmp_path / "late.sqlite")
    policy = qt.RetryPolicy(attempts=2, initial_s=1e-4, max_s=1e-4, jitter_s=0, timeout_s=0.02)
    executor = qt.Executor(hanging(hang_s=0.3), retry=policy, store=store)
    with pytest.raises(qt.IncompleteResultError):
        qt.expval(C, H, THETA, shots=50, seed=4, executor=executor)
    assert executor.wait_abandoned(timeout_s=60) == 0
    assert len(store) == 1 and executor.counters.abandoned_shots == 2 * 50 * len(H.groups())
    sim = Counting()  # the row was paid for: a later run reads it for free
    later = qt.Executor(sim, store=store)
    late = qt.expval(C, H, THETA, shots=50, seed=4, executor=later)
    assert sim.rows == 0 and late.shots == 0
    assert late.value == qt.expval(C, H, THETA, shots=50, seed=4).value


def test_executor_cancels_timed_out_calls_when_the_backend_can():
    backend = hanging(hang_s=60.0, cancellable=True)
    policy = qt.RetryPolicy(attempts=2, initial_s=1e-4, max_s=1e-4, jitter_s=0, timeout_s=0.02)
    executor = qt.Executor(backend, retry=policy)
    with pytest.raises(qt.IncompleteResultError):
        qt.expval(C, H, THETA, shots=10, seed=1, executor=executor)
    assert executor.wait_abandoned(timeout_s=30) == 0  # cancelled: no 60 s hang
    assert executor.counters.abandoned == 2 and executor.counters.abandoned_shots == 0


def test_executor_refuses_to_pile_up_hung_calls():
    policy = qt.RetryPolicy(attempts=5, initial_s=1e-4, max_s=1e-4, jitter_s=0, timeout_s=0.01)
    executor = qt.Executor(hanging(hang_s=0.5), retry=policy, max_abandoned=2)
    with pytest.raises(qt.ExecutionError, match=r"2 timed-out calls to .* are still running"):
        qt.expval(C, H, THETA, executor=executor)
    assert executor.counters.calls == 3 and executor.backend.calls == 2
    assert executor.wait_abandoned(timeout_s=60) == 0
    with pytest.raises(qt.ConfigError, match="max_abandoned"):
        qt.Executor(qt.LocalSimulator(), max_abandoned=0)


def test_executor_rejects_impossible_values_and_reruns_them():
    rows = np.random.default_rng(6).normal(size=(8, C.n_params))
    tasks = [Task(C, (H, qt.Z(2)), rows, 40, 3), Task(C, (H,), rows[:3])]
    clean = qt.Executor(qt.LocalSimulator()).run(tasks)
    executor = qt.Executor(faulty(impossible_rate=0.6), retry=FAST, max_rows=2)
    results = executor.run(tasks)
    for got, want in zip(results, clean, strict=True):
        np.testing.assert_array_equal(got.values, want.values)
        np.testing.assert_array_equal(got.variances, want.variances)
    assert executor.counters.failed > 0 and executor.counters.rejected_shots > 0


def test_executor_unseeded_sampling_draws_fresh_entropy_and_records_it(tmp_path):
    task = Task(C, (H,), THETA[None], 2000)  # seed=None
    executor = qt.Executor(qt.LocalSimulator(), store=qt.ResultStore(tmp_path / "s.sqlite"))
    results = [executor.run([task])[0] for _ in range(3)]
    assert len({float(r.values[0, 0]) for r in results}) == 3
    seeds = [r.metadata["seed"] for r in results]
    assert len(set(seeds)) == 3
    for result, seed in zip(results, seeds, strict=True):  # the recorded seed reproduces it
        again = qt.LocalSimulator().run([Task(C, (H,), THETA[None], 2000, seed)])[0]
        np.testing.assert_array_equal(again.values, result.values)
    stored = executor.run([Task(C, (H,), THETA[None], 2000, seeds[0])])[0]  # under its seed
    assert stored.metadata["cached_rows"] == 1 and stored.values[0, 0] == results[0].values[0, 0]
