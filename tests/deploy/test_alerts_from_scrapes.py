"""The stall and drift-pause alerts, fed with the series a real ``MetricsTracker`` exports.

Each case turns scrapes of a real tracker into a ``promtool test rules`` file, one scrape a
minute (the last repeated while the run stays as it is), and asks which alerts fire. Unix
times (``*_timestamp_seconds``, ``*_start_time_seconds``) are shifted so that the session's
start is the test clock's 0; every other value is the scrape's own.
"""

import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

import qtrain as qt
from qtrain.observe.metrics import MetricsTracker
from qtrain.train.drift_watch import DriftWatch

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
INFO = {"config_hash": "abc", "settings": {"seed": 1, "method": "param-shift"}}
CIRCUIT = qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1)).cnot(0, 1)
OBJECTIVE = qt.Objective.single(CIRCUIT, qt.Z(0) + 0.5 * qt.Z(1))


def promtool():
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing in CI: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return path


def start_time(text):
    """The session's start (Unix seconds) a scrape reports."""
    for family in text_string_to_metric_families(text):
        if family.name == "qtrain_run_start_time_seconds":
            return family.samples[0].value
    raise AssertionError("no qtrain_run_start_time_seconds in the scrape")


def series(text, origin):
    """``{series selector: value}`` of one scrape (NaN samples have no sample in Prometheus)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if math.isnan(sample.value):
                continue
            labels = ", ".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            clock = sample.name.endswith(("_timestamp_seconds", "_start_time_seconds"))
            found[f"{sample.name}{{{labels}}}"] = sample.value - origin if clock else sample.value
    return found


def firing(tmp_path, scrapes, origin, checks):
    """Run promtool on one scrape a minute; ``checks``: ``(minute, alert, run ids firing)``."""
    timeline = [series(text, origin) for text in scrapes]
    names = sorted({name for scrape in timeline for name in scrape})
    inputs = [
        {
            "series": name,
            "values": " ".join(
                "_" if name not in scrape else f"{scrape[name]:.6f}" for scrape in timeline
            ),
        }
        for name in names
    ]
    tests = [
        {
            "expr": f'count by (run_id) (ALERTS{{alertname="{alert}", alertstate="firing"}})',
            "eval_time": f"{minute}m",
            "exp_samples": [{"labels": f'{{run_id="{run}"}}', "value": 1} for run in runs],
        }
        for minute, alert, runs in checks
    ]
    case = {"interval": "1m", "input_series": inputs, "promql_expr_test": tests}
    document = {"rule_files": [str(PROMETHEUS / "rules.yml")], "tests": [case]}
    (tmp_path / "scraped_test.yml").write_text(yaml.safe_dump(document))
    result = subprocess.run(
        [promtool(), "test", "rules", "scraped_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_session_stuck_before_its_first_step_pages_as_stalled(tmp_path):
    tracker = MetricsTracker(run_id="queued")
    tracker.start(INFO)  # then waits for its first step (a provider's queue)
    text = tracker.render()
    assert "qtrain_steps_total{" not in text  # no step series yet
    origin = start_time(text)
    checks = [(25, "QtrainRunStalled", []), (45, "QtrainRunStalled", ["queued"])]
    firing(tmp_path, [text] * 60, origin, checks)
    tracker.finish({"stopped_by": "interrupted"})  # a session that ended is not stalled
    done = tracker.render()
    firing(tmp_path, [text] * 5 + [done] * 55, origin, [(45, "QtrainRunStalled", [])])


def drifting_run(tmp_path, policy):
    """Scrapes of a real run whose canary detects drift at its third step: during, final."""
    tracker = MetricsTracker(run_id=f"drift-{policy}")
    scrapes = []

    class Scraping:
        def start(self, info):
            scrapes.append(tracker.render())

        def log(self, record):
            scrapes.append(tracker.render())

        def finish(self, summary):
            pass

    backend = qt.FaultyBackend(qt.LocalSimulator(), seed=1, drift_step=0.5, drift_start_call=3)
    qt.fit(
        OBJECTIVE,
        np.array([0.3, -0.2]),
        qt.optim.Adam(learning_rate=0.1),
        shots=200,
        seed=5,
        budget=qt.Budget(max_steps=4),
        backend=backend,
        trackers=[tracker, Scraping()],
        run_dir=tmp_path / policy,
        hooks=[DriftWatch(every_steps=1, shots=1000, policy=policy, reference="exact")],
    )
    return scrapes, tracker.render(), start_time(scrapes[0])


def test_a_real_drift_pause_pages_served_or_pushed_and_a_warning_does_not(tmp_path):
    during, final, origin = drifting_run(tmp_path, "pause")
    served = during + [final] * 20  # scraped during the run and in its grace period
    at = len(during) + 5
    paused = [(at, "QtrainRunPausedByDrift", ["drift-pause"]), (at, "QtrainDriftDetected", [])]
    firing(tmp_path, served, origin, [(len(during) - 1, "QtrainRunPausedByDrift", []), *paused])
    firing(tmp_path, [final] * 20, origin, [(5, "QtrainRunPausedByDrift", ["drift-pause"])])
    during, final, origin = drifting_run(tmp_path, "warn")
    warned = [(len(during) + 5, "QtrainRunPausedByDrift", [])]
    warned.append((len(during) + 5, "QtrainDriftDetected", ["drift-warn"]))
    firing(tmp_path, during + [final] * 20, origin, warned)
