import json

import yaml
from typer.testing import CliRunner

from qtrain.cli import app

runner = CliRunner()


def write(tmp_path, **overrides):
    config = {
        "name": "cli-plateau",
        "seed": 1,
        "ansatz": "hardware_efficient",
        "qubits": [2, 3, 4],
        "depths": 1,
        "costs": ["global", "local"],
        "samples": 40,
        "resamples": 200,
        **overrides,
    }
    path = tmp_path / "plateau.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_plateau_prints_the_tables_and_writes_the_files(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["plateau", str(write(tmp_path)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Var[∂C/∂θ_k] over random draws" in result.output
    assert "decay with the qubit count" in result.output and "barren" in result.output
    assert "n=4" in result.output  # progress, one line per point
    assert {p.name for p in out.iterdir()} == {"scan.json", "scan.csv", "scan.png"}


def test_plateau_json_and_bad_configs(tmp_path):
    result = runner.invoke(
        app, ["plateau", str(write(tmp_path)), "--out", str(tmp_path / "o"), "--json"]
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["format"] == "qtrain.plateau/1" and len(data["points"]) == 6
    assert set(data["files"]) == {"json", "csv", "png"}
    bad = runner.invoke(app, ["plateau", str(write(tmp_path, samples=1))])
    assert bad.exit_code == 2 and "samples" in bad.output
