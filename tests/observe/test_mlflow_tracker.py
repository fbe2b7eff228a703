import io
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient

import qtrain as qt
from qtrain.app.config import parse_config
from qtrain.app.runner import resume_from_dir, train_from_config
from qtrain.logs import configure_logging, remove_logging
from qtrain.observe.mlflow_tracker import STEP_METRICS, MlflowTracker, flatten_params
from qtrain.train.tracking import RunContext, read_metrics

CONFIG = {
    "name": "mlflow-h2",
    "seed": 11,
    "problem": {"name": "h2"},
    "optimizer": {"name": "adam", "learning_rate": 0.05},
    "gradient": {"method": "param-shift", "shots": 200},
    "budget": {"max_steps": 4},
    "backend": {
        "name": "faulty",
        "seed": 4,
        "failure_rate": 0.4,
        "recalibrate_every": 2,
        "retry_after_s": 0.001,
    },
    "executor": {
        "retry": {"attempts": 30, "initial_s": 0.001, "max_s": 0.005, "jitter_s": 0.001},
        "max_rows": 1,
    },
    "tracking": "mlflow",
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One MLflow store for the module: creating its tables takes seconds."""
    return tmp_path_factory.mktemp("mlflow") / "runs"


def find_run(client, run_id):
    experiment = client.get_experiment_by_name("qtrain")
    runs = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`qtrain.run_id` = '{run_id}'"
    )
    assert len(runs) == 1
    return runs[0]


@pytest.mark.slow
def test_a_run_is_logged_to_mlflow_and_read_back_then_resumed_into_the_same_run(runs, tmp_path):
    config = parse_config({**CONFIG, "run": {"dir": str(runs)}})
    result, directory = train_from_config(config)
    store = runs / "mlflow.db"
    assert store.exists()  # the default store sits beside the run folders
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    run = find_run(client, directory.path.name)
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["optimizer.learning_rate"] == "0.05"
    assert params["gradient.shots"] == "200" and params["seed"] == "11"
    assert params["backend.failure_rate"] == "0.4" and params["problem.name"] == "h2"
    tags = run.data.tags
    reproduce = json.loads(directory.reproduce.read_text())
    assert tags["qtrain.seed"] == "11" and tags["qtrain.backend"] == "faulty(local-statevector)"
    assert tags["qtrain.version"] == qt.__version__ and tags["qtrain.stopped_by"] == "max_steps"
    if reproduce["git_commit"] is not None:
        assert tags["qtrain.git_commit"] == reproduce["git_commit"]
    records = read_metrics(directory.metrics)
    seen = sorted({c for r in records for c in r.calibration_ids})
    assert tags["qtrain.calibration_ids"] == ",".join(seen) and len(seen) > 1
    for name in STEP_METRICS:
        history = sorted(client.get_metric_history(run.info.run_id, name), key=lambda m: m.step)
        expected = [(r.step, getattr(r, name)) for r in records if getattr(r, name) is not None]
        assert [(m.step, m.value) for m in history] == [(s, pytest.approx(v)) for s, v in expected]
    assert sum(r.retries for r in records) > 0  # the faults happened and were logged
    assert run.data.metrics["final.final_loss_exact"] == pytest.approx(result.final_loss)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "checkpoint.json", "summary.json", "metrics.jsonl"} <= artifacts
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"plots/loss.png", "plots/gradient.png", "plots/gradient_heatmap.png"} <= plots
    local = client.download_artifacts(run.info.run_id, "summary.json", str(tmp_path / "dl"))
    assert json.loads(Path(local).read_text())["steps"] == 4

    summary = json.loads(directory.summary.read_text())
    where = {"tracking_uri": f"sqlite:///{store}", "experiment": "qtrain"}
    assert summary["tracking"]["mlflow"] == {**where, "run_id": run.info.run_id}

    resumed = resume_from_dir(directory.path, budget={"max_steps": 6})
    run = find_run(client, directory.path.name)  # the same MLflow run, continued
    history = client.get_metric_history(run.info.run_id, "loss")
    assert sorted(m.step for m in history) == list(range(6))
    assert run.info.status == "FINISHED" and run.data.tags["qtrain.sessions_from_step"] == "4"
    # The new budget is the run's: in config.yaml (the report shows it) and MLflow's params
    # (write-once: the first value stays, the resume's is logged beside it).
    assert yaml.safe_load(directory.config.read_text())["budget"]["max_steps"] == 6
    assert run.data.params["budget.max_steps"] == "4"
    assert run.data.params["resume.step_4.budget.max_steps"] == "6"
    assert resumed.summary["tracking"]["mlflow"]["run_id"] == run.info.run_id
    resume_from_dir(directory.path, budget={"max_steps": 7})
    params = find_run(client, directory.path.name).data.params
    assert params["resume.step_6.budget.max_steps"] == "7"
    resume_from_dir(directory.path)  # the same budget again: nothing new to log
    params = find_run(client, directory.path.name).data.params
    assert sorted(k for k in params if k.startswith("resume.")) == [
        "resume.step_4.budget.max_steps",
        "resume.step_6.budget.max_steps",
    ]


def test_a_run_that_raises_is_marked_failed(runs, tmp_path):
    uri = f"sqlite:///{runs / 'mlflow.db'}"
    tracker = MlflowTracker(tracking_uri=uri, plots=False)
    tracker.bind(RunContext(run_id="boom", run_dir=tmp_path))
    objective = qt.Objective.single(qt.Circuit(1).ry(0, qt.P(0)), qt.Z(0))
    dead = qt.FaultyBackend(qt.LocalSimulator(), seed=0, failure_rate=1.0)
    executor = qt.Executor(dead, retry=qt.RetryPolicy(attempts=2, initial_s=0.0, jitter_s=0.0))
    with (
        pytest.raises(qt.IncompleteResultError),
        qt.train.tracking.bound([tracker], tracker.context),
    ):
        qt.fit(
            objective,
            np.array([0.1]),
            qt.optim.Adam(0.1),
            executor=executor,
            trackers=[tracker],
            budget=qt.Budget(max_steps=2),
        )
    run = MlflowClient(tracking_uri=uri).get_run(tracker.mlflow_run_id)
    assert run.info.status == "FAILED" and "IncompleteResultError" in run.data.tags["qtrain.error"]


def test_mlflow_info_lines_are_quiet_during_a_run_and_back_after(runs, tmp_path):
    tracker = MlflowTracker(tracking_uri=f"sqlite:///{runs / 'mlflow.db'}", plots=False)
    tracker.bind(RunContext(run_id="quiet", run_dir=tmp_path))
    logger = logging.getLogger("mlflow")
    before = (logger.level, list(logger.handlers))
    stream = io.StringIO()
    handler = configure_logging("json", stream=stream)
    try:
        tracker.start({"step": 0})
        assert logger.getEffectiveLevel() == logging.WARNING
        logging.getLogger("mlflow.store").warning("disk is slow")  # through qtrain's handler
        tracker.finish({"stopped_by": "max_steps"})
    finally:
        remove_logging(handler)
    assert (logger.level, logger.handlers) == before
    (line,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert line["logger"] == "mlflow.store" and line["message"] == "disk is slow"
    assert tracker.location()["run_id"] == tracker.mlflow_run_id


def test_flatten_params_cuts_long_values_and_keeps_keys_dotted():
    params = flatten_params({"a": {"b": [0.1] * 1000, "c": None}, "d": True})
    assert set(params) == {"a.b", "a.c", "d"} and len(params["a.b"]) == 500
    assert params["a.c"] == "None" and params["d"] == "true"


def test_tracking_config_needs_a_known_backend():
    with pytest.raises(qt.ConfigError, match=r"tracking\.name"):
        parse_config({**CONFIG, "tracking": "wandb"})
    assert parse_config({**CONFIG, "tracking": {"name": "mlflow", "uri": "sqlite:///x.db"}})
