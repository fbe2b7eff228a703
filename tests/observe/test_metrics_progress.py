"""What the stall and drift-pause alerts read: the last progress of a session (its start,
then each step) and a drift pause, which stops the run before any record says so."""

import time

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

import qtrain as qt
from qtrain.observe.metrics import MetricsTracker
from qtrain.observe.metrics_schema import NOT_CONVERGED_STOPS
from qtrain.testing import make_record
from qtrain.train.drift_watch import DriftWatch

CIRCUIT = qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1)).cnot(0, 1)
OBJECTIVE = qt.Objective.single(CIRCUIT, qt.Z(0) + 0.5 * qt.Z(1))
INFO = {"config_hash": "abc", "settings": {"seed": 1, "method": "param-shift"}}


def samples_of(tracker):
    found = {}
    for family in text_string_to_metric_families(tracker.render()):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def value(samples, name, **labels):
    matching = [v for got, v in samples[name] if all(got.get(k) == x for k, x in labels.items())]
    assert len(matching) == 1, (name, labels, samples.get(name))
    return matching[0]


def paused_run(tmp_path, policy="pause"):
    """A real run whose canary detects drift at its third step, with ``policy``."""
    tracker = MetricsTracker(run_id="drifting")
    scrapes = []

    class Scraping:  # the scrapes Prometheus would take during the run
        def start(self, info):
            scrapes.append(samples_of(tracker))

        def log(self, record):
            scrapes.append(samples_of(tracker))

        def finish(self, summary):
            pass

    backend = qt.FaultyBackend(qt.LocalSimulator(), seed=1, drift_step=0.5, drift_start_call=3)
    result = qt.fit(
        OBJECTIVE,
        np.array([0.3, -0.2]),
        qt.optim.Adam(learning_rate=0.1),
        shots=200,
        seed=5,
        budget=qt.Budget(max_steps=4),
        backend=backend,
        trackers=[tracker, Scraping()],
        run_dir=tmp_path / "run",
        hooks=[DriftWatch(every_steps=1, shots=1000, policy=policy, reference="exact")],
    )
    return result, tracker, scrapes


def test_a_drift_pause_is_a_detection_with_action_pause_and_drift_detected(tmp_path):
    result, tracker, scrapes = paused_run(tmp_path)
    assert result.stopped_by == "drift"
    # no record carries the pausing canary run: the pause stops the run before the step
    assert not any(r.canary and r.canary["drift"] for r in result.history)
    during = scrapes[-1]
    assert value(during, "qtrain_drift_detections_total", action="pause") == 0
    assert value(during, "qtrain_drift_detected") == 0
    final = samples_of(tracker)
    assert value(final, "qtrain_run_finished") == 1 and value(final, "qtrain_run_converged") == 0
    assert value(final, "qtrain_drift_detected") == 1
    drifts = {labels["action"]: v for labels, v in final["qtrain_drift_detections_total"]}
    assert drifts == {"none": 0, "warn": 0, "pause": 1, "recalibrate": 0, "fallback": 0, "other": 0}


def test_a_warning_policy_counts_its_detections_from_the_records_and_no_pause(tmp_path):
    result, tracker, _ = paused_run(tmp_path, policy="warn")
    assert result.stopped_by == "max_steps"
    warned = sum(1 for r in result.history if r.canary and r.canary["drift"])
    assert warned >= 1
    final = samples_of(tracker)
    assert value(final, "qtrain_drift_detections_total", action="warn") == warned
    assert value(final, "qtrain_drift_detections_total", action="pause") == 0


def test_a_pause_a_record_already_counted_is_not_counted_again():
    tracker = MetricsTracker(run_id="r")
    tracker.start(INFO)
    canary = {"value": 0.4, "reference": 0.0, "residual": 9.0, "drift": True, "action": "pause"}
    tracker.log(make_record(0, canary=canary))
    tracker.finish({"stopped_by": "drift"})
    final = samples_of(tracker)
    assert value(final, "qtrain_drift_detections_total", action="pause") == 1
    assert value(final, "qtrain_drift_detected") == 1


@pytest.mark.parametrize("stopped_by", ["max_steps", "tol", "calibration_stale", "interrupted"])
def test_other_stops_count_no_pause(stopped_by):
    tracker = MetricsTracker(run_id="r")
    tracker.start(INFO)
    tracker.log(make_record(0))
    tracker.finish({"stopped_by": stopped_by})
    final = samples_of(tracker)
    assert value(final, "qtrain_drift_detections_total", action="pause") == 0
    assert value(final, "qtrain_drift_detected") == 0
    assert value(final, "qtrain_run_converged") == (stopped_by not in NOT_CONVERGED_STOPS)


def test_the_last_progress_is_the_start_then_each_step():
    tracker = MetricsTracker(run_id="r")
    before = time.time()
    tracker.start(INFO)
    started = samples_of(tracker)
    # before any step: no step series, but a progress time the stall alert can read
    assert not started.get("qtrain_steps_total")
    progress = value(started, "qtrain_last_progress_timestamp_seconds", run_id="r")
    assert before <= progress == value(started, "qtrain_run_start_time_seconds") <= time.time()
    for step in range(2):
        time.sleep(0.01)  # the wall clock moves on between steps
        before = time.time()
        tracker.log(make_record(step))
        after = samples_of(tracker)
        assert before <= value(after, "qtrain_last_progress_timestamp_seconds") <= time.time()
    assert value(after, "qtrain_run_start_time_seconds") == progress  # the session's start
