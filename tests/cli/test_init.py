import json

import numpy as np
from typer.testing import CliRunner

import qtrain as qt
from qtrain import __version__
from qtrain.cli import app
from qtrain.exec.store import StoredRow

H2 = qt.problems.h2()  # STO-3G at 0.7414 Å, UCC double excitation

runner = CliRunner()


def test_cli_quickstart_trains_h2_to_chemical_accuracy(tmp_path):
    result = runner.invoke(app, ["quickstart", "--steps", "30", "--run-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "final loss (exact, at final θ)" in result.output
    assert "chemical accuracy" in result.output and "shots spent" in result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert abs(summary["final_loss_exact"] - H2.exact_value) < 1.6e-3
    assert summary["steps"] == 30 and summary["shots"] > 0


def test_cli_quickstart_json_is_consistent(tmp_path):
    result = runner.invoke(
        app, ["quickstart", "--json", "--steps", "5", "--shots", "200", "--run-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["exact_value"] == H2.exact_value
    assert data["error"] == data["final_loss_exact"] - H2.exact_value
    assert data["run_dir"] == str(tmp_path) and data["steps"] == 5


def test_cli_rejects_bad_shots_and_prints_version():
    assert runner.invoke(app, ["quickstart", "--shots", "1"]).exit_code != 0
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_cli_store_info_and_prune(tmp_path):
    path = tmp_path / "s.sqlite"
    qt.expval(
        qt.Circuit(1).ry(0, qt.P(0)),
        qt.Z(0),
        np.array([[0.1], [0.2]]),
        shots=10,
        seed=1,
        store=qt.ResultStore(path),
    )
    info = runner.invoke(app, ["store", "info", str(path)])
    assert info.exit_code == 0 and "2 finished row(s)" in info.output
    kept = runner.invoke(app, ["store", "prune", str(path), "--older-than-days", "1"])
    assert kept.exit_code == 0 and "removed 0 row(s)" in kept.output
    assert runner.invoke(app, ["store", "info", str(tmp_path / "missing.sqlite")]).exit_code != 0


def test_store_info_reports_a_damaged_store_with_exit_65_and_leaves_it(tmp_path):
    store = tmp_path / "results.sqlite"
    qt.ResultStore(store).put_many({"a": StoredRow(np.zeros(2), None, 0, {})})
    ok = runner.invoke(app, ["store", "info", str(store)])
    assert ok.exit_code == 0 and "1 finished row(s)" in ok.output
    store.write_bytes(b"garbage, not SQLite" * 50)
    result = runner.invoke(app, ["store", "info", str(store)])
    assert result.exit_code == 65, result.output
    assert f"{store} is damaged (file is not a database)" in result.output
    assert store.read_bytes() == b"garbage, not SQLite" * 50  # inspected, not moved
    assert runner.invoke(app, ["store", "prune", str(store)]).exit_code == 65
