"""The first plan or run on a new machine says that it measures the simulator (issue #18)."""

import json
import logging
import os
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from qtrain.app import calibration
from qtrain.app.calibration import REQUIRED, load_calibration
from qtrain.cli import app

NOTE = "Measuring this machine's simulator once"
runner = CliRunner()


def fake_measure(kernels):
    return {name: 1e-5 for name in REQUIRED}


@pytest.fixture
def new_machine(tmp_path, monkeypatch):
    """An empty cache folder and a measurement that takes no time."""
    monkeypatch.setenv("QTRAIN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(calibration, "measure_fresh", fake_measure)
    monkeypatch.setattr(calibration, "_MEMO", {})
    return tmp_path / "cache"


def write_config(tmp_path, steps=2):
    config = {
        "name": "note",
        "seed": 3,
        "circuit": {"ansatz": "hardware_efficient", "n_qubits": 2, "layers": 1},
        "observable": "Z0 + Z1",
        "optimizer": {"name": "adam", "learning_rate": 0.1},
        "gradient": {"method": "param-shift", "shots": 100},
        "budget": {"max_steps": steps},
        "run": {"dir": str(tmp_path / "runs")},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_measuring_is_one_warning_and_a_cached_calibration_says_nothing(new_machine, caplog):
    with caplog.at_level(logging.INFO, logger="qtrain"):
        first = load_calibration()
    notes = [r for r in caplog.records if getattr(r, "event", None) == "calibration.measure"]
    assert first.measured_now and len(notes) == 1
    assert notes[0].levelno == logging.WARNING and notes[0].name.startswith("qtrain.")
    assert notes[0].getMessage().startswith(NOTE) and str(first.path) in notes[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="qtrain"):
        again = load_calibration()
    assert not again.measured_now and caplog.records == []


def test_train_with_json_logs_says_it_as_a_json_line(new_machine, tmp_path):
    config = write_config(tmp_path)
    args = ["train", str(config), "--run-dir", str(tmp_path / "run"), "--log-format", "json"]
    done = runner.invoke(app, [*args, "--json"])
    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # every line is JSON
    (note,) = [line for line in lines if line["event"] == "calibration.measure"]
    assert note["level"] == "warning" and note["message"].startswith(NOTE)
    assert str(new_machine) in note["message"]
    second = runner.invoke(app, ["train", str(config), "--log-format", "json", "--json"])
    assert second.exit_code == 0 and "calibration.measure" not in second.stderr


def test_quickstart_says_it_in_a_human_line(new_machine, tmp_path):
    args = ["quickstart", "--steps", "1", "--run-dir", str(tmp_path / "run")]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    (line,) = [line for line in done.stderr.splitlines() if NOTE in line]
    assert "WARNING" in line and "calibration.measure" in line


PLAN = (
    "import sys\n"
    "from qtrain.app import calibration\n"
    "calibration.measure_fresh = lambda kernels: {n: 1e-5 for n in calibration.REQUIRED}\n"
    "from qtrain.cli import app\n"
    "app()\n"
)


def test_plan_says_it_on_stderr_once(tmp_path):
    """``qtrain plan`` configures no logging: Python's last-resort handler prints the line."""
    config = write_config(tmp_path)
    env = {**os.environ, "QTRAIN_CACHE_DIR": str(tmp_path / "cache")}

    def plan():
        return subprocess.run(
            [sys.executable, "-c", PLAN, "plan", str(config)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )

    first = plan()
    assert first.returncode == 0, first.stderr
    assert first.stderr.count(NOTE) == 1 and str(tmp_path / "cache") in first.stderr
    assert NOTE not in first.stdout  # the plan's table stays clean
    second = plan()
    assert second.returncode == 0 and NOTE not in second.stderr
