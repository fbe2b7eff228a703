from pathlib import Path

import numpy as np
import pytest

import qtrain as qt
from qtrain.app import plan_time
from qtrain.app.calibration import REQUIRED
from qtrain.app.config import load_config, parse_config
from qtrain.app.runner import plan_from_config, train_from_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SMALL = {
    "name": "plan-check",
    "seed": 4,
    "circuit": {"ansatz": "hardware_efficient", "n_qubits": 2, "layers": 1},
    "observable": "Z0 Z1 + 0.5 X1",
    "optimizer": {"name": "adam", "learning_rate": 0.05},
    "gradient": {"method": "param-shift", "shots": 100},
    "budget": {"max_steps": 3},
}
COEFFICIENTS = {
    **{name: 1e-5 for name in REQUIRED},
    "loop.step": 4e-3,
    "warmup.fit": 0.5,
    "store.commit_full": 1e-3,
}


@pytest.fixture(autouse=True)
def timing(tmp_path, monkeypatch):
    """Known coefficients in a cache folder of this test's own: nothing is measured."""
    monkeypatch.setenv("QTRAIN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("qtrain.app.calibration.measure_fresh", lambda kernels: COEFFICIENTS)


def test_plan_counts_the_classifiers_adjoint_circuits():
    report = plan_from_config(load_config(EXAMPLES / "classifier.yaml"))
    assert report["terms"] == 40 and report["method"] == "adjoint"
    assert report["step"]["circuits"] == report["step"]["adjoint_circuits"] == 40
    assert report["step"]["rows"] == 0  # no task goes through the executor
    assert report["step"]["estimated_seconds"] > COEFFICIENTS["loop.step"]
    assert report["time"]["parts"]["adjoint_and_metric"] > 0


def test_plan_prices_the_whole_run_not_only_the_simulator():
    report = plan_from_config(load_config(EXAMPLES / "h2_vqe.yaml"))
    step, time = report["step"], report["time"]
    assert step["circuits"] == step["rows"] == 17 and step["adjoint_circuits"] == 0
    # warm-up once, then loop + executor + store + backend + planning every step
    assert report["estimated_seconds"] == pytest.approx(0.5 + 60 * step["estimated_seconds"])
    assert time["warmup_seconds"] == 0.5 and time["parts"]["loop"] == 4e-3
    assert time["parts"]["executor_and_store"] >= 1e-3  # one fsync-ed commit per call
    assert time["parts"]["backend"] > 0 and time["parts"]["planning"] > 0
    assert step["estimated_seconds"] == pytest.approx(sum(time["parts"].values()))
    assert report["estimated_seconds"] > 0.5  # the old estimate said 0.0004 s (it took 1.1 s)
    assert "measured coefficients" in time["basis"] and "measured now" in time["coefficients"]
    again = plan_from_config(load_config(EXAMPLES / "h2_vqe.yaml"))["time"]["coefficients"]
    assert again.startswith("cached (") and again.endswith(".json)")


def test_a_time_budget_limits_the_planned_steps():
    report = plan_from_config(
        parse_config({**SMALL, "budget": {"max_steps": 1000, "max_seconds": 0.6}})
    )
    assert 0 < report["steps"] < 1000
    assert (
        report["estimated_seconds"]
        <= 0.6
        < report["estimated_seconds"] + report["step"]["estimated_seconds"]
    )


def test_plan_prices_faults_and_mitigation_through_their_wrappers():
    clean = plan_from_config(parse_config(SMALL))["step"]["estimated_seconds"]
    faulty = {**SMALL, "backend": {"name": "faulty", "seed": 1, "failure_rate": 0.5}}
    retried = plan_from_config(parse_config(faulty))
    assert retried["step"]["estimated_seconds"] > clean
    assert retried["time"]["parts"]["retry_waits"] > 0
    assert "retries" in retried["time"]["basis"]
    noisy = plan_from_config(load_config(EXAMPLES / "h2_noisy.yaml"))
    mitigated = plan_from_config(load_config(EXAMPLES / "h2_mitigated.yaml"))
    backend = [r["time"]["parts"]["backend"] for r in (noisy, mitigated)]
    assert backend[1] > 3 * backend[0]  # three scale factors, each circuit folded longer
    assert mitigated["step"]["estimated_seconds"] is not None


def test_run_summary_records_the_plans_estimate_and_how_far_off_it_was(tmp_path):
    qt.expval(qt.Circuit(1).ry(0, qt.P(0)), qt.Z(0), np.array([0.1]))  # kernels loaded here
    result, _ = train_from_config(parse_config(SMALL), run_dir=tmp_path / "run")
    plan = result.summary["plan"]
    assert plan["steps"] == 3 and plan["measured_seconds"] > 0
    assert plan["warmup_seconds"] == 0  # this process paid it already: its run does not
    assert plan["estimated_seconds"] == pytest.approx(3 * plan["step_seconds"])
    assert plan["ratio"] == pytest.approx(plan["measured_seconds"] / plan["estimated_seconds"])
    assert plan["estimated_seconds_budget"] == pytest.approx(plan["estimated_seconds"])
    assert plan["measured_seconds"] <= result.summary["seconds"]


def test_a_failed_estimate_never_stops_the_run(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("no cache today")

    monkeypatch.setattr(plan_time, "load_calibration", broken)
    result, _ = train_from_config(parse_config(SMALL), run_dir=tmp_path / "run")
    assert result.steps == 3
    plan = result.summary["plan"]
    assert plan["estimated_seconds"] is None and "no cache today" in plan["basis"]
