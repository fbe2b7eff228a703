"""Errors before work, and no debris: one line, a documented exit status, nothing left behind."""

import sqlite3
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from qtrain.cli import app

runner = CliRunner()
README = Path(__file__).resolve().parents[2] / "README.md"

BAD = {
    "state-too-large": (
        {"circuit": {"ansatz": "hardware_efficient", "n_qubits": 40}, "theta0": None},
        "backend.memory_budget: a 40-qubit state needs",
    ),
    "adjoint-with-shots": (
        {"gradient": {"method": "adjoint", "shots": 100}},
        "gradient.method: 'adjoint' is exact by construction",
    ),
    "adjoint-memory": (
        {
            "circuit": {"ansatz": "hardware_efficient", "n_qubits": 9},
            "theta0": None,
            "gradient": {"method": "adjoint"},
            "backend": {"memory_budget": 40_000},
        },
        "backend.memory_budget: the adjoint method keeps 3 9-qubit states",
    ),
    "observable-wire": ({"observable": "Z0 + Z7"}, "observable: observable acts on wire 7"),
    "observable-syntax": ({"observable": "Z0 + Q1"}, "observable: unexpected token 'Q1'"),
    "circuit-path": ({"circuit": {"path": "config.yaml"}}, "circuit.path: "),
}


def errors(output):
    return [line for line in output.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("case", list(BAD))
@pytest.mark.parametrize("command", ["train", "grad", "plan"])
def test_a_config_that_cannot_run_is_one_error_naming_key_and_file(
    tmp_path, write_config, command, case
):
    overrides, expected = BAD[case]
    config = write_config(tmp_path, **overrides)
    result = runner.invoke(app, [command, str(config)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(errors(result.output)) == 1, result.output  # said once
    assert expected in result.output and str(config) in result.output
    assert not (tmp_path / "runs").exists()  # no run folder, not even an empty one


def test_an_empty_config_says_it_is_empty(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("# nothing yet\n")
    for command in ("train", "grad", "plan"):
        result = runner.invoke(app, [command, str(config)])
        assert result.exit_code == 2
        assert errors(result.output) == [
            f"error: {config} is empty: expected a mapping of sections"
        ]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_a_run_dir_that_cannot_be_created_is_one_line_exit_73(tmp_path, write_config):
    config = write_config(tmp_path)
    for run_dir in ("/proc/x", str(config), str(config / "x")):
        result = runner.invoke(app, ["train", str(config), "--run-dir", run_dir])
        assert result.exit_code == 73, result.output
        assert "Traceback" not in result.output
        (line,) = errors(result.output)
        assert f"cannot create the run folder {run_dir} (" in line
        assert "choose a run folder" in line


def test_resume_with_an_edited_config_names_the_change_and_leaves_the_folder(
    tmp_path, write_config
):
    optimizer = {"name": "adam", "learning_rate": 0.05}
    config = write_config(tmp_path, optimizer=optimizer, budget={"max_steps": 2})
    run_dir = tmp_path / "run"
    assert runner.invoke(app, ["train", str(config), "--run-dir", str(run_dir)]).exit_code == 0
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    saved["optimizer"]["learning_rate"] = 0.07
    (run_dir / "config.yaml").write_text(yaml.safe_dump(saved, sort_keys=False))
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run_dir.iterdir()}
    result = runner.invoke(app, ["resume", str(run_dir), "--max-steps", "4"])
    assert result.exit_code == 2, result.output
    (line,) = errors(result.output)
    assert "optimizer.learning_rate 0.05 → 0.07" in line
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run_dir.iterdir()}
    assert after == before


def test_resume_of_a_folder_that_is_not_a_run_is_one_line(tmp_path):
    result = runner.invoke(app, ["resume", str(tmp_path)])
    assert result.exit_code == 2
    assert errors(result.output) == [
        f"error: {tmp_path} is not a run folder (no config.yaml): give the folder qtrain "
        "train printed, such as runs/<name>-<time>-<hash>"
    ]


def test_store_commands_refuse_files_that_are_not_stores_and_leave_them(tmp_path):
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    other = tmp_path / "other.db"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.commit()
    connection.close()
    cases = {README: "not an SQLite file", empty: "an empty file", other: "no results table"}
    for path, reason in cases.items():
        content = path.read_bytes()
        for command in ("info", "prune"):
            result = runner.invoke(app, ["store", command, str(path)])
            assert result.exit_code == 2, result.output
            assert "Traceback" not in result.output
            (line,) = errors(result.output)
            assert str(path) in line and "not a qtrain result store" in line and reason in line
            assert path.read_bytes() == content  # never written to
