"""The operations metrics (queue, cost, calibration, canary, validation, mitigation, backend
switches), one run id, the method actually used, the Pushgateway and the grace period."""

import http.server
import json
import logging
import math
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

import qtrain as qt
from qtrain.observe.metrics import MetricsTracker, serve_metrics
from qtrain.testing import make_record
from qtrain.train.tracking import read_metrics


def samples_of(text):
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def one(samples, name, **labels):
    matching = [v for got, v in samples[name] if all(got.get(k) == x for k, x in labels.items())]
    assert len(matching) == 1, (name, labels, samples[name])
    return matching[0]


CANARY = {"value": -0.9, "stderr": 0.02, "reference": -1.0, "residual": 5.0, "statistic": 6.5}
CANARY |= {"threshold": 5.0, "shots": 300}


def hardware_record(step, **fields):
    defaults = {
        "method": "param-shift",
        "shots": 100,
        "shots_total": 100 * (step + 1),
        "backend": "ibm_a",
        "queue_s": 30.0,
        "execution_s": 2.5,
        "cost": 1.25,
        "cost_total": 1.25 * (step + 1),
        "calibration_age_s": 600.0 + step,
        "readout_error": 0.04,
    }
    return make_record(step, **(defaults | fields))


def test_the_new_step_fields_become_counters_gauges_and_last_seen_values():
    tracker = MetricsTracker(run_id="hw")
    tracker.start({"config_hash": "abc", "settings": {"seed": 1, "method": "best"}})
    before = samples_of(tracker.render())
    assert math.isnan(one(before, "qtrain_canary_residual"))  # nothing seen yet: NaN
    assert one(before, "qtrain_drift_detected") == 0
    assert one(before, "qtrain_run_info", method="best")  # before a step: the setting
    tracker.log(hardware_record(0, canary=CANARY | {"drift": False, "action": "none"}))
    tracker.log(hardware_record(1, validation={"loss": -0.8, "stderr": 0.03, "shots": 50}))
    tracker.log(hardware_record(2, backend="ibm_b", mitigation={"raw": -0.7, "mitigated": -0.95}))
    tracker.log(
        hardware_record(3, backend="ibm_b", canary=CANARY | {"drift": True, "action": "pause"})
    )
    tracker.log(hardware_record(4, backend="ibm_a", cost=None, calibration_age_s=None))
    got = samples_of(tracker.render())
    step = {"run_id": "hw", "backend": "unknown", "method": "param-shift"}
    assert one(got, "qtrain_step_queue_seconds_total", **step) == 5 * 30.0
    assert one(got, "qtrain_step_execution_seconds_total", **step) == 5 * 2.5
    assert one(got, "qtrain_cost_total", **step) == 4 * 1.25  # the last step had no price
    assert math.isnan(one(got, "qtrain_step_cost", **step))
    assert one(got, "qtrain_run_cost", **step) == 1.25 * 5
    assert math.isnan(one(got, "qtrain_calibration_age_seconds", **step))
    assert one(got, "qtrain_readout_error", **step) == 0.04
    # the canary ran at steps 0 and 3: its last values, one drift, paused
    assert one(got, "qtrain_canary_residual") == 5.0 and one(got, "qtrain_canary_statistic") == 6.5
    assert one(got, "qtrain_canary_threshold") == 5.0 and one(got, "qtrain_canary_reference") == -1
    assert one(got, "qtrain_drift_detected") == 1
    assert (
        one(got, "qtrain_canary_runs_total") == 2 and one(got, "qtrain_canary_shots_total") == 600
    )
    drifts = {labels["action"]: v for labels, v in got["qtrain_drift_detections_total"]}
    assert drifts == {"none": 0, "warn": 0, "pause": 1, "recalibrate": 0, "fallback": 0, "other": 0}
    assert one(got, "qtrain_validation_loss") == -0.8
    assert one(got, "qtrain_validation_loss_stderr") == 0.03
    assert one(got, "qtrain_loss_raw") == -0.7 and one(got, "qtrain_loss_mitigated") == -0.95
    # ibm_a → ibm_b at step 2, back at step 4: two switches; the label says where it runs now
    assert one(got, "qtrain_backend_switches_total") == 2
    assert one(got, "qtrain_backend_in_use_info", in_use="ibm_a") == 1
    # run_info's method is the one the steps used, not the "best" setting
    assert one(got, "qtrain_run_info", method="param-shift") == 1


@pytest.mark.parametrize(
    ("stopped_by", "converged"),
    [("max_cost", 0), ("drift", 0), ("calibration_stale", 0), ("max_shots", 0), ("tol", 1)],
)
def test_stops_that_are_not_convergence_say_so(stopped_by, converged):
    tracker = MetricsTracker(run_id="stop")
    tracker.start({"config_hash": "abc", "settings": {}})
    tracker.log(hardware_record(0))
    tracker.finish({"stopped_by": stopped_by})
    got = samples_of(tracker.render())
    assert one(got, "qtrain_run_converged") == converged and one(got, "qtrain_run_finished") == 1


def test_the_money_budget_is_exported_when_the_budget_has_one():
    """``qtrain_budget_cost`` reads ``budget.max_cost`` (absent without one)."""
    without = samples_of(MetricsTracker(run_id="b", budget=qt.Budget(max_shots=10)).render())
    assert "qtrain_budget_cost" not in without and one(without, "qtrain_budget_shots") == 10
    budget = qt.Budget(max_shots=10, max_cost=25.0)
    priced = samples_of(MetricsTracker(run_id="b", budget=budget).render())
    assert one(priced, "qtrain_budget_cost") == 25.0


def small_fit(tmp_path, trackers, **options):
    objective = qt.Objective.single(qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1)), qt.Z(0) + qt.Z(1))
    return qt.fit(
        objective,
        np.array([0.4, 0.3]),
        qt.optim.Adam(0.1),
        shots=64,
        seed=2,
        trackers=trackers,
        run_dir=tmp_path / "run",
        budget=qt.Budget(max_steps=3),
        **options,
    )


def test_per_component_gradient_stderrs_are_in_metrics_jsonl_not_in_labels(tmp_path):
    tracker = MetricsTracker(run_id="stderr")
    result = small_fit(tmp_path, [tracker])
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    for line, record in zip(lines, result.history, strict=True):
        stderr = json.loads(line)["gradient_stderr"]
        assert len(stderr) == 2 and all(s > 0 for s in stderr)  # sampled: a stderr per θ_k
        assert stderr == list(record.gradient_stderr)
    assert [r.gradient_stderr for r in read_metrics(tmp_path / "run" / "metrics.jsonl")] == [
        r.gradient_stderr for r in result.history
    ]
    labels = {
        k
        for f in text_string_to_metric_families(tracker.render())
        for s in f.samples
        for k in s.labels
    }
    assert not any("stderr" in label or "gradient" in label for label in labels)


class Gateway:
    """A tiny HTTP server that records what is pushed to it (method, path, body)."""

    def __init__(self, status=200):
        pushes = self.pushes = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                pushes.append((self.command, self.path, body))
                self.send_response(status)
                self.end_headers()

            do_POST = do_PUT  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def gateway():
    server = Gateway()
    yield server
    server.close()


def test_metrics_are_pushed_to_a_pushgateway_at_start_each_step_and_the_end(tmp_path, gateway):
    tracker = MetricsTracker(run_id="pushed", push=gateway.url, push_interval=0)
    result = small_fit(tmp_path, [tracker])
    assert len(gateway.pushes) == 1 + result.steps + 1  # start, every step, the end
    assert {(m, p) for m, p, _ in gateway.pushes} == {("PUT", "/metrics/job/qtrain/run_id/pushed")}
    first, last = samples_of(gateway.pushes[0][2]), samples_of(gateway.pushes[-1][2])
    assert one(first, "qtrain_run_finished", run_id="pushed") == 0
    assert one(last, "qtrain_run_finished", run_id="pushed") == 1
    assert one(last, "qtrain_steps_total", run_id="pushed") == result.steps
    assert tracker.pusher.pushes == len(gateway.pushes) and tracker.pusher.failures == 0


def test_the_push_rate_limit_still_pushes_the_end(tmp_path, gateway):
    tracker = MetricsTracker(run_id="limited", push=gateway.url, push_interval=3600)
    small_fit(tmp_path, [tracker])
    assert len(gateway.pushes) == 2  # the start, then nothing for an hour but the end
    assert one(samples_of(gateway.pushes[-1][2]), "qtrain_run_finished") == 1


def test_a_failed_push_is_a_warning_not_the_runs_failure(tmp_path, caplog):
    refusing = Gateway(status=500)
    try:
        tracker = MetricsTracker(run_id="refused", push=refusing.url, push_interval=0)
        with caplog.at_level(logging.WARNING, logger="qtrain.observe"):
            result = small_fit(tmp_path, [tracker])
    finally:
        refusing.close()
    assert result.steps == 3 and tracker.pusher.pushes == 0
    assert tracker.pusher.failures == len(refusing.pushes) == 5
    events = [r for r in caplog.records if getattr(r, "event", None) == "metrics.push_failed"]
    assert len(events) == 5 and refusing.url in events[0].getMessage()


def test_a_finished_run_is_served_for_its_grace_period_then_not(tmp_path):
    with serve_metrics(0, run_id="grace", grace=30.0) as metrics:
        small_fit(tmp_path, [metrics])
        url = metrics.url
        lingering = threading.Thread(target=metrics.linger)
        lingering.start()  # what leaving the block does, in the background here
        with urllib.request.urlopen(url, timeout=10) as response:
            final = samples_of(response.read().decode())
        assert one(final, "qtrain_run_finished") == 1 and one(final, "qtrain_steps_total") == 3
        metrics.close()  # ends the grace period early (leaving the block then waits no more)
        lingering.join(timeout=60)
        assert not lingering.is_alive()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=5)


def test_grace_is_not_spent_on_a_run_that_has_not_finished():
    tracker = MetricsTracker(run_id="unfinished", grace=3600.0).serve(0)
    try:
        tracker.linger()  # returns at once: no final state to serve
    finally:
        tracker.close()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"grace": -1.0}, "grace"),
        ({"grace": math.inf}, "grace"),
        ({"push": "ftp://gateway"}, "http"),
        ({"push": "gateway:9091"}, "http"),
        ({"push": "http://gateway:9091", "push_interval": -5}, "interval"),
    ],
)
def test_bad_grace_or_push_options_are_refused(options, match):
    with pytest.raises(qt.ConfigError, match=match):
        MetricsTracker(**options)
