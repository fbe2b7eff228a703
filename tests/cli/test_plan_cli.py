"""``qtrain plan``: what it counts, what it refuses, and the run summary's check of it."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qtrain.app.calibration import REQUIRED
from qtrain.cli import app

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
COEFFICIENTS = {**{name: 1e-5 for name in REQUIRED}, "loop.step": 4e-3, "warmup.fit": 0.5}


@pytest.fixture(autouse=True)
def timing(tmp_path, monkeypatch):
    """Known coefficients in a cache folder of this test's own: nothing is measured."""
    monkeypatch.setenv("QTRAIN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("qtrain.app.calibration.measure_fresh", lambda kernels: COEFFICIENTS)


def test_plan_refuses_what_train_refuses_before_any_work(tmp_path, write_config):
    circuit = {"ansatz": "hardware_efficient", "n_qubits": 40, "layers": 1}
    config = write_config(tmp_path, circuit=circuit, observable="Z0 Z1", theta0=None)
    plan = runner.invoke(app, ["plan", str(config)])
    assert plan.exit_code == 2, plan.output
    assert "40-qubit state needs" in plan.output and "backend.memory_budget" in plan.output
    assert "s per step" not in plan.output and "per step" not in plan.output
    train = runner.invoke(app, ["train", str(config), "--run-dir", str(tmp_path / "q40")])
    assert train.exit_code == 2 and "40-qubit state needs" in train.output
    assert not (tmp_path / "q40").exists() and not (tmp_path / "runs").exists()


def test_a_budget_beyond_the_machine_is_refused_alike_by_plan_grad_and_train(
    tmp_path, write_config
):
    circuit = {"ansatz": "hardware_efficient", "n_qubits": 40, "layers": 1}
    backend = {"name": "local", "memory_budget": 10**15}  # the budget check alone passes
    config = write_config(tmp_path, circuit=circuit, observable="Z0", theta0=None, backend=backend)
    outputs = []
    for command in (["plan"], ["grad"], ["train", "--run-dir", str(tmp_path / "q40")]):
        result = runner.invoke(app, [command[0], str(config), *command[1:]])
        assert result.exit_code == 2, result.output  # was: plan ~1e8 s, grad a MemoryError
        outputs.append(" ".join(result.output.split()))
    for text in outputs:
        assert "backend.memory_budget: a 40-qubit state needs 64.0 TiB" in text
        assert "this machine has" in text and "Traceback" not in text
    assert not (tmp_path / "q40").exists()


def test_plan_shows_the_adjoint_circuits_and_what_the_time_rests_on():
    result = runner.invoke(app, ["plan", str(EXAMPLES / "classifier.yaml")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "40 (adjoint passes)" in text
    assert "0 (0 distinct)" not in text and "unknown" not in text
    assert "time model: this machine's measured coefficients" in text
    assert "warm-up 0.5 s" in text


def test_train_summary_says_how_far_off_the_plan_was(tmp_path, write_config):
    config = write_config(tmp_path)
    result = runner.invoke(app, ["train", str(config), "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["plan"]
    assert plan["steps"] == 8 and plan["ratio"] > 0 and plan["estimated_seconds"] > 8 * 4e-3
    table = runner.invoke(app, ["train", str(config), "--run-dir", str(tmp_path / "again")])
    assert table.exit_code == 0, table.output
    text = " ".join(table.output.split())
    assert "plan estimate" in text and "plan said ~" in text and "for 8 steps, took" in text
