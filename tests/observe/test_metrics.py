import itertools
import math
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

import qtrain as qt
from qtrain.app.config import parse_config
from qtrain.app.runner import train_from_config
from qtrain.observe.metrics import MetricsTracker, serve_metrics
from qtrain.observe.metrics_state import LatencyHistogram
from qtrain.testing import make_record
from qtrain.train.tracking import read_metrics

ROOT = Path(__file__).resolve().parents[2]

CHAOS = {
    "name": "metrics-chaos",
    "seed": 5,
    "problem": {"name": "maxcut", "edges": [[0, 1], [1, 2], [2, 3], [3, 0], [0, 2]], "layers": 1},
    "optimizer": {"name": "adam", "learning_rate": 0.05},
    "gradient": {"method": "param-shift", "shots": 100},
    "budget": {"max_steps": 8, "max_shots": 2_000_000},
    "backend": {
        "name": "faulty",
        "seed": 3,
        "failure_rate": 0.25,
        "throttle_rate": 0.1,
        "partial_rate": 0.2,
        "corrupt_rate": 0.1,
        "retry_after_s": 0.001,
        "recalibrate_every": 4,
    },
    "executor": {
        "retry": {"attempts": 40, "initial_s": 0.001, "max_s": 0.005, "jitter_s": 0.001},
        "max_rows": 3,
    },
}


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return text, samples


def value(samples, name, **labels):
    matching = [v for got, v in samples[name] if all(got.get(k) == x for k, x in labels.items())]
    assert len(matching) == 1, (name, labels, samples[name])
    return matching[0]


class Scraper:
    """A tracker after the metrics tracker: scrapes the live endpoint after every step."""

    def __init__(self, metrics, metrics_path):
        self.metrics, self.metrics_path, self.seen = metrics, metrics_path, []

    def start(self, info):
        self.seen.append(("start", scrape(self.metrics.url)[1], None, None))

    def log(self, record):
        counters = self.metrics.executor.counters.snapshot()
        lines = read_metrics(self.metrics_path)  # what metrics.jsonl holds at this moment
        self.seen.append(("step", scrape(self.metrics.url)[1], counters, lines))

    def finish(self, summary):
        pass


@pytest.fixture(scope="module")
def chaos_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("chaos") / "run"
    with serve_metrics(0) as metrics:
        scraper = Scraper(metrics, run_dir / "metrics.jsonl")
        result, _ = train_from_config(
            parse_config(CHAOS), run_dir=run_dir, trackers=[metrics, scraper]
        )
        final_text, final = scrape(metrics.url)
        url = metrics.url
    return {
        "result": result,
        "metrics": metrics,
        "seen": scraper.seen,
        "final": final,
        "text": final_text,
        "run_dir": run_dir,
        "url": url,
    }


def test_scrapes_during_a_faulty_run_equal_metrics_jsonl_and_the_executor(chaos_run):
    steps = [entry for entry in chaos_run["seen"] if entry[0] == "step"]
    assert len(steps) == CHAOS["budget"]["max_steps"]
    run_id = chaos_run["run_dir"].name
    for _, samples, counters, lines in steps:
        labels = {"run_id": run_id, "backend": "faulty(local-statevector)"}
        step_labels = {**labels, "method": "param-shift"}
        assert value(samples, "qtrain_steps_total", **step_labels) == len(lines)
        for metric, field in [
            ("qtrain_shots_total", "shots"),
            ("qtrain_circuits_total", "circuits"),
            ("qtrain_step_retries_total", "retries"),
            ("qtrain_step_failures_total", "failures"),
            ("qtrain_step_cached_total", "cached"),
        ]:
            assert value(samples, metric, **step_labels) == sum(getattr(r, field) for r in lines)
        for metric, field in [
            ("qtrain_exec_calls_total", "calls"),
            ("qtrain_exec_rows_submitted_total", "submitted"),
            ("qtrain_exec_rows_succeeded_total", "succeeded"),
            ("qtrain_exec_rows_failed_total", "failed"),
            ("qtrain_exec_rows_cached_total", "cached"),
            ("qtrain_exec_rows_deduplicated_total", "deduplicated"),
            ("qtrain_exec_retries_total", "retried"),
            ("qtrain_exec_throttled_total", "throttled"),
            ("qtrain_exec_partial_calls_total", "partial"),
        ]:
            assert value(samples, metric, **labels) == counters[field]
        # the two sources agree: the executor's retries and failures are the steps' sums
        assert counters["retried"] == sum(r.retries for r in lines)
        assert counters["failed"] == sum(r.failures for r in lines)
        assert value(samples, "qtrain_exec_call_seconds_count", **labels) == counters["calls"]
        last = lines[-1]
        assert value(samples, "qtrain_loss", **step_labels) == last.loss
        assert value(samples, "qtrain_loss_stderr", **step_labels) == last.loss_stderr
        assert value(samples, "qtrain_grad_snr", **step_labels) == last.grad_snr
        assert value(samples, "qtrain_run_shots", **step_labels) == last.shots_total
        assert value(samples, "qtrain_run_steps", **step_labels) == last.step + 1
        assert value(samples, "qtrain_gradient_seconds_count", **step_labels) == len(lines)
        assert value(samples, "qtrain_gradient_seconds_sum", **step_labels) == pytest.approx(
            sum(r.seconds for r in lines)
        )
        changes = sum(
            len(set(b.calibration_ids) - set(a.calibration_ids))
            for a, b in itertools.pairwise(lines)
        )
        assert value(samples, "qtrain_calibration_changes_total", **labels) == changes
        assert value(samples, "qtrain_budget_shots", **labels) == 2_000_000
        assert value(samples, "qtrain_run_finished", **labels) == 0
    final_counters = steps[-1][2]
    # the seeded faults really happened, so the equalities above were tested under failure
    assert final_counters["failed"] > 0 and final_counters["retried"] > 0
    assert final_counters["throttled"] > 0 and final_counters["partial"] > 0
    assert value(chaos_run["final"], "qtrain_calibration_changes_total", **labels) > 0
    assert value(chaos_run["final"], "qtrain_run_finished", **labels) == 1


def test_metrics_stop_being_served_when_closed_and_labels_stay_bounded(chaos_run):
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(chaos_run["url"], timeout=5)
    label_names = set()
    for family in text_string_to_metric_families(chaos_run["text"]):
        assert family.name.startswith("qtrain_")
        for sample in family.samples:
            label_names |= set(sample.labels)
    assert label_names <= {
        "run_id",
        "backend",
        "method",
        "decision",
        "action",
        "in_use",
        "le",
        "qtrain_monitor_state",
        "version",
        "seed",
        "config_hash",
    }


def test_histogram_buckets_are_cumulative_and_count_every_call(chaos_run):
    buckets = [
        (float(labels["le"]), v)
        for labels, v in chaos_run["final"]["qtrain_exec_call_seconds_bucket"]
    ]
    counts = [v for _, v in sorted(buckets)]
    assert counts == sorted(counts) and math.isinf(sorted(buckets)[-1][0])
    assert counts[-1] == chaos_run["metrics"].executor.counters.calls


def test_latency_buckets_hold_their_bound_and_add_up_in_order():
    """``le`` buckets count ``v <= le`` (as Prometheus does), cumulatively; the sum is in order."""
    histogram = LatencyHistogram()
    values = [0.0004, 0.001, 0.0011, 900.0, 1e9]
    for v in values:
        histogram.observe(v)
    counts = dict(histogram.cumulative())
    assert counts["0.001"] == 2 and counts["0.005"] == 3 and counts["900.0"] == 4
    assert counts["+Inf"] == 5 and list(counts)[-1] == "+Inf"
    assert histogram.sum == sum(values)


SCRAPE_TWO_METHODS = """
import itertools, time
from qtrain.observe.metrics import MetricsTracker
from qtrain.testing import make_record
clock = itertools.count(0.0, 0.0137)
time.perf_counter, time.time = (lambda: next(clock)), (lambda: 1.7e9)
for run in ("a", "b"):  # two trackers in one process, two methods each
    tracker = MetricsTracker(run_id=run)
    tracker.start({"config_hash": "abc", "settings": {"seed": 1}})
    for step, seconds in enumerate([0.0001, 0.002, 0.07, 2.0]):
        method = ("adjoint", "param-shift")[step % 2]
        tracker.log(make_record(step, seconds=seconds, method=method))
    print(tracker.render())
"""


def test_scrapes_do_not_depend_on_prometheus_multiprocess_mode(tmp_path):
    """Under PROMETHEUS_MULTIPROC_DIR, prometheus_client.Histogram values of one name share a
    process-wide slot; the tracker's own buckets keep each method's and each run's apart."""
    env = {k: v for k, v in os.environ.items() if k.lower() != "prometheus_multiproc_dir"}
    scrapes = [
        subprocess.run(
            [sys.executable, "-c", SCRAPE_TWO_METHODS],
            env=extra | env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        for extra in ({}, {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    ]
    assert scrapes[0] == scrapes[1]
    assert (
        'qtrain_gradient_seconds_count{backend="unknown",method="adjoint",run_id="b"} 2.0'
        in (scrapes[0])
    )


def record(step, *, monitor=None, calibration=("cal-0",)):
    return make_record(
        step,
        loss=-1.0 + 0.1 * step,
        loss_stderr=0.01,
        grad_norm=0.5,
        grad_norm_stderr=0.05,
        grad_snr=10.0,
        shots=100,
        shots_total=100 * (step + 1),
        circuits=4,
        seconds=0.01,
        elapsed=0.01 * (step + 1),
        method="param-shift",
        calibration_ids=calibration,
        gradient=(0.5,),
        monitor=monitor,
    )


def test_plateau_monitor_state_is_exported_with_or_without_a_monitor():
    tracker = MetricsTracker(run_id="m")
    tracker.start({"config_hash": "abc", "settings": {"seed": 1}})
    tracker.log(record(0))  # no monitor: StepRecord.monitor is None
    samples = {
        s.name: s
        for f in text_string_to_metric_families(tracker.render())
        for s in f.samples
        if s.name == "qtrain_monitor_state" and s.value == 1
    }
    assert samples["qtrain_monitor_state"].labels["qtrain_monitor_state"] == "none"
    for step, decision in enumerate(["ok", "warn", "warn", "layerwise", "panic"], start=1):
        tracker.log(record(step, monitor={"decision": decision, "snr": 0.5}))
    families = {f.name: f for f in text_string_to_metric_families(tracker.render())}
    state = [s for s in families["qtrain_monitor_state"].samples if s.value == 1]
    assert [s.labels["qtrain_monitor_state"] for s in state] == ["other"]
    counts = {s.labels["decision"]: s.value for s in families["qtrain_monitor_decisions"].samples}
    assert counts == {"ok": 1, "warn": 2, "stop": 0, "raise_shots": 0, "layerwise": 1, "other": 1}


def test_library_one_call_serves_a_plain_fit_with_its_executor():
    objective = qt.Objective.single(qt.Circuit(1).ry(0, qt.P(0)), qt.Z(0))
    executor = qt.Executor(qt.LocalSimulator())
    with qt.observe.serve_metrics(0, executor=executor, budget=qt.Budget(max_steps=3)) as metrics:
        result = qt.fit(
            objective,
            np.array([0.4]),
            qt.optim.Adam(0.1),
            shots=50,
            seed=1,
            executor=executor,
            trackers=[metrics],
            budget=qt.Budget(max_steps=3),
        )
        _, samples = scrape(metrics.url)
    run_id = result.summary["config_hash"][:12]
    labels = {"run_id": run_id, "backend": "local-statevector"}
    assert value(samples, "qtrain_steps_total", method="param-shift", **labels) == 3
    assert value(samples, "qtrain_exec_calls_total", **labels) == executor.counters.calls
    assert value(samples, "qtrain_run_finished", **labels) == 1
    assert value(samples, "qtrain_budget_steps", **labels) == 3


def test_serve_refuses_bad_or_taken_ports():
    with pytest.raises(qt.ConfigError, match=r"0\.\.65535"):
        MetricsTracker().serve(70000)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(qt.ConfigError, match=f"127.0.0.1:{port}"):
            MetricsTracker().serve(port)


# The Grafana dashboard and the alert rules are checked against a real scrape in tests/deploy.


def test_the_real_gradient_monitor_feeds_the_monitor_metrics():
    circuit = qt.ansatz.hardware_efficient(2, 1)
    objective = qt.Objective.single(circuit, qt.Z(0) + qt.Z(1))
    tracker = MetricsTracker(run_id="real-monitor")
    monitor = qt.diagnostics.GradientMonitor(policy="stop", window=2, threshold=50.0)
    result = qt.fit(
        objective,
        np.full(4, 0.4),
        qt.optim.Adam(0.05),
        shots=50,
        seed=1,
        monitor=monitor,
        trackers=[tracker],
        budget=qt.Budget(max_steps=10),
    )
    assert result.stopped_by == "plateau"
    families = {f.name: f for f in text_string_to_metric_families(tracker.render())}
    counts = {s.labels["decision"]: s.value for s in families["qtrain_monitor_decisions"].samples}
    assert counts["stop"] == 1 and counts["ok"] == result.steps - 1 and counts["other"] == 0


def test_a_fit_with_a_run_folder_is_labelled_by_the_folder_name(tmp_path):
    """One run id everywhere: a bare qt.fit run's metrics and logs name its folder."""
    objective = qt.Objective.single(qt.Circuit(1).ry(0, qt.P(0)), qt.Z(0))
    executor = qt.Executor(qt.LocalSimulator())
    logs = qt.train.tracking.LogTracker()
    with qt.observe.serve_metrics(0, executor=executor) as metrics:
        qt.fit(
            objective,
            np.array([0.4]),
            qt.optim.Adam(0.1),
            seed=1,
            executor=executor,
            trackers=[metrics, logs],
            budget=qt.Budget(max_steps=2),
            run_dir=tmp_path / "h2-folder",
        )
        _, samples = scrape(metrics.url)
    labels = {"run_id": "h2-folder", "backend": "local-statevector"}
    assert value(samples, "qtrain_steps_total", method="adjoint", **labels) == 2
    assert metrics.run_id == logs.run_id == "h2-folder"
