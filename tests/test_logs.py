import io
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
import warnings

import pytest

import qtrain as qt
from qtrain.app.config import parse_config
from qtrain.app.runner import train_from_config
from qtrain.logs import (
    HumanFormatter,
    clear_context,
    configure_logging,
    current_context,
    emit,
    remove_logging,
    set_context,
    warnings_as_json,
)

FAULTY = {
    "name": "logs",
    "seed": 1,
    "circuit": {"ansatz": "hardware_efficient", "n_qubits": 2, "layers": 1},
    "observable": "Z0 Z1 + 0.5 X1",
    "optimizer": {"name": "adam", "learning_rate": 0.1},
    "gradient": {"method": "param-shift", "shots": 50},
    "budget": {"max_steps": 4},
    "backend": {
        "name": "faulty",
        "seed": 2,
        "failure_rate": 0.3,
        "partial_rate": 0.3,
        "throttle_rate": 0.1,
        "retry_after_s": 0.001,
    },
    "executor": {
        "retry": {"attempts": 40, "initial_s": 0.001, "max_s": 0.002, "jitter_s": 0.001},
        "max_rows": 2,
    },
}


def test_a_faulty_run_logs_json_lines_with_run_id_step_task_key_and_event(tmp_path):
    stream = io.StringIO()
    handler = configure_logging("json", stream=stream)
    try:
        _, directory = train_from_config(parse_config(FAULTY), run_dir=tmp_path / "run")
    finally:
        remove_logging(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    run_id = directory.path.name
    assert all(line["run_id"] == run_id and line["level"] for line in lines)
    events = [line["event"] for line in lines]
    assert events[0] == "run.start" and events[-1] == "run.finish"
    assert events.count("step") == 4
    assert [line["step"] for line in lines if line["event"] == "step"] == [0, 1, 2, 3]
    faults = [line for line in lines if line["event"].startswith("exec.")]
    assert {"exec.call_failed", "exec.result_missing", "exec.retry"} <= set(events)
    stored = {key for (key,) in sqlite3.connect(directory.store).execute("SELECT key FROM results")}
    for line in faults:
        assert re.fullmatch(r"[0-9a-f]{16}", line["task_key"]), line
        assert 0 <= line["step"] < 4
        # a task key is the store key of the task's first row: it finished in the end
        assert any(key.startswith(line["task_key"]) for key in stored)
    # an event belongs to the step that was running: the step's line comes after its faults
    step_of_line = [line["step"] for line in lines if line["event"] in ("step", "exec.retry")]
    assert step_of_line == sorted(step_of_line)


def test_human_lines_are_short_and_the_default_level_hides_retried_faults():
    stream = io.StringIO()
    handler = configure_logging("human", stream=stream)
    try:
        set_context(run_id="r1", step=2)
        log = logging.getLogger("qtrain.exec")
        emit(log, logging.INFO, "exec.retry", attempt=2)  # below the default warning level
        emit(log, logging.ERROR, "exec.incomplete", "gave up", task_keys=list("abcdef"))
    finally:
        remove_logging(handler)
        clear_context()
    text = stream.getvalue()
    assert "exec.retry" not in text
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d ERROR   exec\.incomplete gave up run=r1 step=2 "
        r"task_keys=\[a,b,c,d,…\+2\]\n",
        text,
    )
    assert logging.getLogger("qtrain").propagate and not logging.getLogger("qtrain").handlers


def test_context_and_bad_options():
    set_context(run_id="x", step=1)
    set_context(step=None)
    assert current_context() == {"run_id": "x"}
    clear_context()
    assert current_context() == {}
    with pytest.raises(qt.ConfigError, match="log format"):
        configure_logging("xml")
    with pytest.raises(qt.ConfigError, match="log level"):
        configure_logging("json", level="loud")
    record = logging.LogRecord("qtrain", logging.INFO, "", 0, "plain %s", ("message",), None)
    assert HumanFormatter().format(record).endswith("INFO    log plain message")


def test_warnings_as_json_writes_one_json_line_and_is_undone(capsys):
    before = []
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda *args: before.append(args)
        restore = warnings_as_json()
        warnings.warn("careful", UserWarning, stacklevel=1)
        warnings.showwarning("to a file", UserWarning, "x.py", 1, sys.stdout, None)
        restore()
        restore()  # twice is harmless
        warnings.warn("hooked no more", UserWarning, stacklevel=1)
    assert [args[0] for args in before[:1]] == ["to a file"]  # a chosen file: unchanged
    assert str(before[1][0]) == "hooked no more" and len(before) == 2
    (line,) = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert record["logger"] == "py.warnings" and record["event"] == "python.warning"
    assert record["level"] == "warning" and record["message"] == "UserWarning: careful"
    assert record["category"] == "UserWarning" and record["file"].endswith("test_logs.py")


CONFIG = """
name: warnings
seed: 3
circuit: {ansatz: hardware_efficient, n_qubits: 2, layers: 1}
observable: Z0 + Z1
optimizer: {name: adam, learning_rate: 0.1}
gradient: {method: param-shift, shots: 100}
budget: {max_steps: 2}
run: {dir: runs}
"""

WARNING_EVERYWHERE = """
import importlib.abc, sys, warnings
from qtrain.app import calibration
calibration.measure_fresh = lambda kernels: {n: 1e-5 for n in calibration.REQUIRED}

class WarnOnImport(importlib.abc.MetaPathFinder):  # a dependency that warns when imported
    def find_spec(self, name, path, target=None):
        if name == "qtrain.cli.plateau":
            warnings.warn("while the CLI imports", DeprecationWarning, stacklevel=2)

sys.meta_path.insert(0, WarnOnImport())
import qtrain.app.config as config
load = config.load_config

def load_config(path):  # before the command sets its logging up
    warnings.warn("while the config is read", UserWarning, stacklevel=2)
    return load(path)

config.load_config = load_config
from qtrain.cli import app, training
notes = training.run_notes

def run_notes(*args, **kwargs):  # after the run's logging is gone
    warnings.warn("after the run", UserWarning, stacklevel=2)
    return notes(*args, **kwargs)

training.run_notes = run_notes
app()
"""


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_a_json_log_command_writes_warnings_as_json_lines(tmp_path, as_json):
    """Warnings while the CLI imports, reads the config and after its run: JSON lines too."""
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.replace("runs", str(tmp_path / "runs")))
    args = ["train", str(config), "--log-format", "json", *(["--json"] if as_json else [])]
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", WARNING_EVERYWHERE, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QTRAIN_CACHE_DIR": str(tmp_path / "cache")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = []
    for line in done.stderr.splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}\nin:\n{done.stderr}")
    said = {line["message"] for line in lines if line["logger"] == "py.warnings"}
    for text in ("while the CLI imports", "while the config is read", "after the run"):
        assert any(text in message for message in said), (text, said)
    assert "calibration.measure" in {line["event"] for line in lines}
