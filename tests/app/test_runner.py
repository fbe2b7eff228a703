import errno
import json
import os

import numpy as np
import pytest
import yaml

import qtrain as qt
from qtrain.app.config import parse_config
from qtrain.app.runner import (
    gradient_from_config,
    make_executor,
    plan_from_config,
    prepare,
    resume_from_dir,
    train_from_config,
)
from qtrain.errors import NotWritableError

CUSTOM = {
    "name": "custom",
    "seed": 4,
    "circuit": {"ansatz": "hardware_efficient", "n_qubits": 3, "layers": 1},
    "observable": "Z0 Z1 + 0.5 X2",
    "theta0": {"init": "normal", "scale": 0.2},
    "optimizer": {"name": "adam", "learning_rate": 0.05},
    "gradient": {"method": "param-shift", "shots": 100},
    "budget": {"max_steps": 6},
}


def test_prepare_builds_a_seeded_reproducible_run():
    first, second = prepare(parse_config(CUSTOM)), prepare(parse_config(CUSTOM))
    assert first.theta0.tobytes() == second.theta0.tobytes()
    assert first.theta0.std() > 0 and first.objective.n_params == 6
    drawn = prepare(parse_config({**CUSTOM, "seed": None}))
    assert drawn.config.seed is not None  # recorded, so the run can be reproduced
    h2 = prepare(parse_config({"problem": {"name": "h2"}, "optimizer": {"name": "rosalin"}}))
    assert h2.exact_value == pytest.approx(-1.137270174661, abs=1e-9)  # FCI at 0.7414 Å
    assert h2.optimizer.lipschitz == pytest.approx(h2.objective.lipschitz_bound())


def test_train_then_resume_from_the_run_folder_is_bit_identical(tmp_path):
    straight, _ = train_from_config(parse_config(CUSTOM), run_dir=tmp_path / "straight")
    short = {**CUSTOM, "budget": {"max_steps": 2}}
    _, directory = train_from_config(parse_config(short), run_dir=tmp_path / "split")
    saved = yaml.safe_load(directory.config.read_text())
    assert saved["seed"] == 4 and saved["budget"]["max_steps"] == 2
    resumed = resume_from_dir(directory.path, budget={"max_steps": 6})
    assert resumed.theta.tobytes() == straight.theta.tobytes()
    assert resumed.steps == 6


def test_train_refuses_an_existing_run_folder(tmp_path):
    train_from_config(parse_config({**CUSTOM, "budget": {"max_steps": 1}}), run_dir=tmp_path)
    with pytest.raises(qt.CheckpointError, match="qtrain resume"):
        train_from_config(parse_config(CUSTOM), run_dir=tmp_path)
    with pytest.raises(qt.CheckpointError, match="not a run directory"):
        resume_from_dir(tmp_path / "nothing")


def test_problem_runs_report_problem_numbers(tmp_path):
    config = {
        "seed": 1,
        "problem": {"name": "maxcut", "edges": [[0, 1], [1, 2], [0, 2]], "layers": 1},
        "optimizer": {"name": "adam", "learning_rate": 0.1},
        "gradient": {"method": "adjoint"},
        "budget": {"max_steps": 30},
    }
    result, directory = train_from_config(parse_config(config), run_dir=tmp_path)
    report = json.loads(directory.summary.read_text())["problem"]["report"]
    assert 0.5 < report["approximation_ratio"] <= 1.0
    assert result.summary["exact_value"] == -2.0


def test_gradient_from_config_matches_qt_grad():
    prepared, evaluation = gradient_from_config(parse_config({**CUSTOM, "gradient": {}}))
    circuit, H = prepared.objective.circuits[0], prepared.objective.observables[0]
    reference = qt.grad(circuit, H, prepared.theta0)
    np.testing.assert_allclose(evaluation.gradient, reference.value, atol=1e-10)


def test_plan_prices_the_step_and_the_budget():
    config = {**CUSTOM, "budget": {"max_steps": 100, "max_shots": 10_000}}
    report = plan_from_config(parse_config(config))
    rows = 2 * 6 + 1
    assert report["step"]["rows"] == rows
    assert report["step"]["shots"] == rows * 100  # one commuting group
    assert report["steps"] == 10_000 // (rows * 100)
    assert report["total_shots"] <= 10_000 and not report["adaptive_shots"]


def test_make_executor_builds_the_configured_backend(tmp_path):
    config = parse_config(
        {
            **CUSTOM,
            "backend": {"name": "faulty", "seed": 3, "failure_rate": 0.5},
            "executor": {"retry": {"attempts": 3}, "max_rows": 4},
        }
    )
    executor = make_executor(config, tmp_path / "s.sqlite")
    assert isinstance(executor.backend, qt.FaultyBackend)
    assert executor.backend.profile.failure_rate == 0.5
    assert executor.retry.attempts == 3 and executor.max_rows == 4
    assert executor.store is not None
    assert make_executor(config.model_copy(update={"store": False}), None).store is None


@pytest.mark.slow
def test_train_on_a_dask_cluster_equals_local(tmp_path):
    local, _ = train_from_config(
        parse_config({**CUSTOM, "budget": {"max_steps": 3}}), run_dir=tmp_path / "local"
    )
    dask_config = {
        **CUSTOM,
        "budget": {"max_steps": 3},
        "executor": {"dask": {"n_workers": 1}, "max_rows": 4},
    }
    distributed, _ = train_from_config(parse_config(dask_config), run_dir=tmp_path / "dask")
    assert distributed.theta.tobytes() == local.theta.tobytes()


def test_the_monitor_section_reaches_fit(tmp_path):
    config = parse_config({**CUSTOM, "monitor": {"policy": "stop", "window": 2, "threshold": 50}})
    result, directory = train_from_config(config, run_dir=tmp_path / "run")
    assert result.stopped_by == "plateau" and result.steps == 2  # SNR < 50 at once
    records = [json.loads(line) for line in directory.metrics.read_text().splitlines()]
    assert [r["monitor"]["action"] for r in records] == [None, "stop"]
    resumed = resume_from_dir(directory.path, budget={"max_steps": 4})
    assert resumed.stopped_by == "plateau" and resumed.steps == 3  # still below: stops again


def test_monitor_layers_are_checked_when_the_run_is_prepared():
    config = parse_config({**CUSTOM, "monitor": {"policy": "layerwise", "layers": 4}})
    with pytest.raises(qt.ConfigError, match="layers=4 does not divide the 6 parameters"):
        prepare(config)


def test_store_section_sets_path_and_durability(tmp_path):
    config = parse_config({**CUSTOM, "store": {"durability": "normal"}})
    executor = make_executor(config, tmp_path / "run.sqlite")
    assert executor.store.path == tmp_path / "run.sqlite"
    assert executor.store.durability == "normal"
    elsewhere = parse_config({**CUSTOM, "store": {"path": str(tmp_path / "shared.sqlite")}})
    assert make_executor(elsewhere, tmp_path / "run.sqlite").store.durability == "full"
    assert make_executor(elsewhere, None).store.path == tmp_path / "shared.sqlite"


def test_one_gradient_is_measured_as_the_first_training_step():
    # Rosalin chooses its own shots: the gradient of `qtrain grad` uses them, as step 0 would.
    config = parse_config(
        {
            **CUSTOM,
            "optimizer": {"name": "rosalin", "initial_shots": 12},
            "gradient": {"method": "param-shift"},
        }
    )
    prepared, evaluation = gradient_from_config(config)
    assert evaluation.gradient_stderr is not None
    rows, groups = 2 * prepared.objective.n_params + 1, 1
    assert evaluation.shots == rows * groups * 12
    assert plan_from_config(config)["step"]["shots"] == evaluation.shots


def test_a_read_only_folder_is_refused_before_the_config_is_written(tmp_path, monkeypatch):
    real_open, folder = os.open, tmp_path / "run"

    def read_only(path, flags, *args, **kwargs):
        if os.fspath(path).startswith(str(folder)) and flags & (os.O_WRONLY | os.O_RDWR):
            raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(NotWritableError, match="read-only file system"):
        train_from_config(parse_config(CUSTOM), run_dir=folder)
    monkeypatch.undo()
    assert list(folder.iterdir()) == []


def test_resume_rebuilds_a_damaged_store_and_stays_bit_identical(tmp_path):
    straight, _ = train_from_config(parse_config(CUSTOM), run_dir=tmp_path / "straight")
    short = {**CUSTOM, "budget": {"max_steps": 3}}
    _, directory = train_from_config(parse_config(short), run_dir=tmp_path / "split")
    directory.store.write_bytes(b"\x00" * 5000)
    resumed = resume_from_dir(directory.path, budget={"max_steps": 6})
    assert resumed.theta.tobytes() == straight.theta.tobytes()
    assert len(list(directory.path.glob("results.sqlite.corrupt-*"))) == 1
