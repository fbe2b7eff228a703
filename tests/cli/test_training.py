import errno
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
    allowed = "max_steps, max_shots, max_seconds, max_cost"
    assert f"budget.max_step: unknown key (allowed: {allowed})" in result.output
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


def summary_theta(run_dir):
    return json.loads((run_dir / "summary.json").read_text())["theta"]


def straight_theta(tmp_path, config):
    result = runner.invoke(app, ["train", str(config), "--run-dir", str(tmp_path / "straight")])
    assert result.exit_code == 0, result.output
    return summary_theta(tmp_path / "straight")


def hidden_files(run_dir):
    return sorted(p.name for p in run_dir.iterdir() if p.name.startswith("."))


def test_a_full_disk_is_one_line_exit_74_and_resume_ends_as_if_unbroken(
    tmp_path, write_config, fill_disk, monkeypatch
):
    config = write_config(tmp_path)
    run_dir = tmp_path / "run"
    fill_disk("checkpoint.json", after=3)
    result = runner.invoke(app, ["train", str(config), "--run-dir", str(run_dir)])
    assert result.exit_code == 74, result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an escaped traceback
    (line,) = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert f"disk full: cannot write {run_dir / 'checkpoint.json'}" in line
    assert "step 3 finished but could not be saved" in line
    assert f"qtrain resume {run_dir}" in line
    assert hidden_files(run_dir) == []  # no .checkpoint.json.<pid>.tmp left holding space
    monkeypatch.undo()
    resumed = runner.invoke(app, ["resume", str(run_dir)])
    assert resumed.exit_code == 0, resumed.output
    assert summary_theta(run_dir) == straight_theta(tmp_path, config)


def test_a_read_only_run_folder_exits_73_before_any_work(tmp_path, write_config, monkeypatch):
    config = write_config(tmp_path)
    run_dir = tmp_path / "run"
    assert runner.invoke(app, ["train", str(config), "--run-dir", str(run_dir)]).exit_code == 0
    before = (run_dir / "checkpoint.json").read_bytes()
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if os.fspath(path).startswith(str(run_dir)) and flags & (os.O_WRONLY | os.O_RDWR):
            raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    result = runner.invoke(app, ["resume", str(run_dir), "--max-steps", "12"])
    assert result.exit_code == 73, result.output
    assert f"read-only file system: cannot write in the run folder {run_dir}" in result.output
    monkeypatch.undo()
    assert (run_dir / "checkpoint.json").read_bytes() == before
    assert hidden_files(run_dir) == []


def test_an_unreadable_store_exits_66_naming_it(tmp_path, write_config, monkeypatch):
    config = write_config(tmp_path)
    run_dir = tmp_path / "run"
    assert runner.invoke(app, ["train", str(config), "--run-dir", str(run_dir)]).exit_code == 0
    real_open, store = os.open, str(run_dir / "results.sqlite")

    def denied(path, flags, *args, **kwargs):
        if os.fspath(path) == store:
            raise PermissionError(errno.EACCES, "Permission denied", store)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    result = runner.invoke(app, ["resume", str(run_dir), "--max-steps", "12"])
    assert result.exit_code == 66, result.output
    assert f"permission denied: cannot read {store}" in result.output


def cli(*args):
    """``python -m qtrain ARGS``: what an operator sees, traceback or not."""
    return subprocess.run(
        [sys.executable, "-m", "qtrain", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_resume_with_a_damaged_store_warns_rebuilds_and_ends_as_if_unbroken(tmp_path, write_config):
    config = write_config(tmp_path, budget={"max_steps": 4})
    run_dir = tmp_path / "run"
    assert runner.invoke(app, ["train", str(config), "--run-dir", str(run_dir)]).exit_code == 0
    (run_dir / "results.sqlite").write_bytes(b"this is not a database\n" * 100)
    done = cli("resume", run_dir, "--max-steps", 8)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    warnings = [x for x in done.stderr.splitlines() if "store.quarantined" in x]
    assert len(warnings) == 1 and "results.sqlite.corrupt-" in warnings[0]
    assert len(list(run_dir.glob("results.sqlite.corrupt-*"))) == 1
    straight = write_config(tmp_path, budget={"max_steps": 8})
    assert summary_theta(run_dir) == straight_theta(tmp_path, straight)


def test_resume_with_a_damaged_history_exits_65_in_one_line(tmp_path, write_config):
    config = write_config(tmp_path)
    run_dir = tmp_path / "run"
    assert runner.invoke(app, ["train", str(config), "--run-dir", str(run_dir)]).exit_code == 0
    lines = (run_dir / "metrics.jsonl").read_text().splitlines(keepends=True)
    lines[4] = "\x00\x00\x00 garbage\n"
    (run_dir / "metrics.jsonl").write_text("".join(lines))
    done = cli("resume", run_dir, "--max-steps", 12)
    assert done.returncode == 65, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f"{run_dir / 'metrics.jsonl'} line 5 is not a step record" in line
    assert "restore metrics.jsonl from a backup" in line
