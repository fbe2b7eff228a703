import logging

import numpy as np
import pytest

import qtrain as qt


def events(caplog, name=None):
    return [r for r in caplog.records if name is None or getattr(r, "event", None) == name]


def test_every_failed_row_and_retry_of_the_executor_is_an_event(caplog):
    caplog.set_level(logging.INFO, logger="qtrain")
    circuit = qt.ansatz.hardware_efficient(2, 1)
    flaky = qt.FaultyBackend(
        qt.LocalSimulator(),
        seed=3,
        failure_rate=0.3,
        throttle_rate=0.1,
        partial_rate=0.3,
        corrupt_rate=0.2,
        retry_after_s=0.001,
    )
    executor = qt.Executor(
        flaky,
        retry=qt.RetryPolicy(attempts=50, initial_s=0.0, max_s=0.001, jitter_s=0.0),
        max_rows=2,
        tasks_per_call=1,
    )
    qt.grad(
        circuit,
        qt.Z(0) @ qt.Z(1),
        np.full(4, 0.2),
        method="param-shift",
        shots=40,
        seed=1,
        executor=executor,
    )
    counters = executor.counters
    lost = sum(
        r.fields["rows"]
        for r in caplog.records
        if getattr(r, "event", "").startswith(("exec.call_failed", "exec.throttled", "exec.result"))
    )
    assert lost == counters.failed > 0
    assert len(events(caplog, "exec.retry")) == counters.retried > 0
    assert len(events(caplog, "exec.throttled")) == counters.throttled > 0
    invalid = events(caplog, "exec.result_invalid")
    assert invalid and all(r.getMessage() for r in invalid)  # the reason, e.g. non-finite values
    rejecting_calls = {r.fields.get("task_key") for r in events(caplog, "exec.result_missing")}
    assert counters.partial > 0 and rejecting_calls
    for r in events(caplog, "exec.throttled"):
        assert (
            r.fields["retry_after_s"] == 0.001 and len(r.fields["task_keys"]) == r.fields["tasks"]
        )


def test_giving_up_is_an_error_event_naming_the_tasks(caplog):
    caplog.set_level(logging.INFO, logger="qtrain")
    dead = qt.FaultyBackend(qt.LocalSimulator(), seed=0, failure_rate=1.0)
    executor = qt.Executor(dead, retry=qt.RetryPolicy(attempts=3, initial_s=0.0, jitter_s=0.0))
    with pytest.raises(qt.IncompleteResultError):
        qt.grad(
            qt.Circuit(1).ry(0, qt.P(0)),
            qt.Z(0),
            [0.1],
            method="param-shift",
            shots=10,
            seed=1,
            executor=executor,
        )
    (gave_up,) = events(caplog, "exec.incomplete")
    assert gave_up.levelno == logging.ERROR and gave_up.fields["attempts"] == 3
    assert gave_up.fields["tasks"] == 1 and len(gave_up.fields["task_key"]) == 16
    assert len(events(caplog, "exec.call_failed")) == 3 == executor.counters.calls
