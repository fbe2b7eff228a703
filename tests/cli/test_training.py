import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

import qtrain as qt
from qtrain.cli import app

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_train_shows_progress_and_a_summary_then_resume_extends_it(tmp_path, write_config):
    config = write_config(tmp_path)
    run_dir = tmp_path / "run"
    result = runner.invoke(app, ["train", str(config), "--run-dir", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "train" in result.output and "loss" in result.output and "shots" in result.output
    assert "stopped by" in result.output and "max_steps" in result.output
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 8
    more = runner.invoke(app, ["resume", str(run_dir), "--max-steps", "12", "--json"])
    assert more.exit_code == 0, more.output
    assert json.loads(more.stdout)["steps"] == 12


def test_train_json_summary_and_run_folder_naming(tmp_path, write_config):
    config = write_config(tmp_path)
    result = runner.invoke(app, ["train", str(config), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    run_dir = Path(data["run_dir"])
    assert run_dir.parent == tmp_path / "runs" and run_dir.name.startswith("cli-test-")
    assert (run_dir / "config.yaml").exists() and data["steps"] == 8


def test_bad_config_is_one_clear_error_and_nothing_runs(tmp_path, write_config):
    config = write_config(tmp_path, budget={"max_step": 3})
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 2
    assert "budget.max_step: unknown key (allowed: max_steps, max_shots, max_seconds)" in (
        result.output
    )
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_grad_prints_components_with_error_bars(tmp_path, write_config):
    config = write_config(tmp_path)
    result = runner.invoke(app, ["grad", str(config), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    exact = qt.grad(qt.ansatz.hardware_efficient(2, 1), qt.Z(0) + qt.Z(1), [0.4] * 4)
    for value, err, ref in zip(data["gradient"], data["gradient_stderr"], exact.value, strict=True):
        assert abs(value - ref) < 5 * err
    table = runner.invoke(app, ["grad", str(config)])
    assert table.exit_code == 0 and "SNR" in table.output and "±" in table.output


def test_plan_prices_a_run_without_running_it(tmp_path, write_config):
    config = write_config(tmp_path, budget={"max_steps": 50, "max_shots": 10_000})
    result = runner.invoke(app, ["plan", str(config), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["step"]["shots"] == 9 * 200 and report["steps"] == 10_000 // 1800
    assert not (tmp_path / "runs").exists()
    table = runner.invoke(app, ["plan", str(config)])
    assert table.exit_code == 0 and "per step" in table.output


def test_problems_lists_the_built_ins():
    result = runner.invoke(app, ["problems", "--json"])
    assert result.exit_code == 0
    listing = json.loads(result.stdout)
    assert {"h2", "maxcut", "classifier"} <= set(listing)
    assert "bond_length" in listing["h2"]["options"]
    assert "h2" in runner.invoke(app, ["problems"]).output


def test_every_example_plans(tmp_path):
    for path in sorted(EXAMPLES.glob("*.yaml")):
        if path.name.startswith("plateau"):
            continue  # a scan config (qtrain plateau), tested in tests/cli/test_plateau.py
        result = runner.invoke(app, ["plan", str(path), "--json"])
        assert result.exit_code == 0, (path.name, result.output)


def test_ctrl_c_checkpoints_and_exits_cleanly(tmp_path, write_config):
    config = write_config(
        tmp_path,
        budget={"max_steps": 10_000},
        backend={"name": "faulty", "seed": 0, "latency_s": 0.01},
    )
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "qtrain", "train", str(config), "--run-dir", str(run_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (run_dir / "checkpoint.json").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    assert "qtrain resume" in output and "Traceback" not in output
    checkpoint = qt.train.load_checkpoint(run_dir / "checkpoint.json")
    assert checkpoint.stopped_by == "interrupted" and checkpoint.step >= 1
