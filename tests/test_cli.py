import json

import numpy as np
from typer.testing import CliRunner

import qtrain as qt
from qtrain import __version__
from qtrain.cli import app
from qtrain.problems.h2 import H2_FCI_ENERGY

runner = CliRunner()


def test_cli_quickstart_prints_exact_and_sampled_energy():
    result = runner.invoke(app, ["quickstart", "--shots", "2000", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "exact energy at θ" in result.output and "sampled energy" in result.output
    assert "-1.13618945" in result.output


def test_cli_quickstart_json_is_consistent():
    result = runner.invoke(app, ["quickstart", "--json", "--shots", "5000"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert abs(data["exact_energy"] - H2_FCI_ENERGY) < 1e-8
    assert abs(data["sampled_energy"] - data["exact_energy"]) < 5 * data["sampled_stderr"]
    assert data["shots"] == 5000 * 5  # five commuting groups in the H2 Hamiltonian


def test_cli_rejects_bad_shots_and_prints_version():
    assert runner.invoke(app, ["quickstart", "--shots", "0"]).exit_code != 0
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
