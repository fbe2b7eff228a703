import json
import sys

import yaml
from rich.console import Console
from typer.testing import CliRunner

from qtrain.cli import app
from qtrain.cli.plateau import fits_table, points_table, sci
from qtrain.diagnostics import scan_run
from qtrain.diagnostics.result import ScanResult

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
    assert {p.name for p in out.iterdir()} == {"scan.json", "scan.csv", "scan.png", "points.jsonl"}


def test_plateau_json_and_bad_configs(tmp_path):
    result = runner.invoke(
        app, ["plateau", str(write(tmp_path)), "--out", str(tmp_path / "o"), "--json"]
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["format"] == "qtrain.plateau/1" and len(data["points"]) == 6
    assert set(data["files"]) == {"json", "csv", "png", "points"}
    bad = runner.invoke(app, ["plateau", str(write(tmp_path, samples=1))])
    assert bad.exit_code == 2 and "samples" in bad.output


def test_the_tables_fit_80_columns_and_never_cut_a_number(tmp_path):
    inits = ["uniform", "identity_blocks"]
    result = runner.invoke(
        app,
        ["plateau", str(write(tmp_path, depths=2, inits=inits)), "--out", str(tmp_path / "o")],
    )
    assert result.exit_code == 0, result.output
    scan = ScanResult.from_dict(json.loads((tmp_path / "o" / "scan.json").read_text()))
    console = Console(width=80, record=True)
    console.print(points_table(scan, width=80), fits_table(scan, width=80))
    text = console.export_text()
    assert "…" not in text and max(map(len, text.splitlines())) <= 80
    words = set(text.split())
    for p in scan.points:  # every number whole, on one line (a cell may wrap at its space)
        assert {sci(p.variance), f"[{sci(p.ci_low)},", f"{sci(p.ci_high)}]"} <= words
    for f in scan.fits:
        assert {f"{f.rate:.3f}", f"[{f.rate_low:.3f},", f"{f.rate_high:.3f}]"} <= words
        assert f.shape in words and f.init in words


def test_ctrl_c_says_what_was_saved_and_the_same_command_continues(tmp_path, monkeypatch):
    real, calls = scan_run.measure, []

    def measure(scan, point):
        calls.append(point.n)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(scan, point)

    monkeypatch.setattr("qtrain.diagnostics.scan.measure", measure)
    args = ["plateau", str(write(tmp_path)), "--out", str(tmp_path / "o")]
    cut = runner.invoke(app, args)
    assert cut.exit_code == 130
    saved = tmp_path / "o" / "points.jsonl"
    assert f"interrupted: 2 finished point(s) are saved in {saved}" in " ".join(cut.output.split())
    monkeypatch.undo()
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "2 point(s) saved by an earlier run" in done.output and "(saved)" in done.output


def test_a_plot_without_matplotlib_exits_2_before_any_point(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    config = write(tmp_path, output={"plot": True})
    result = runner.invoke(app, ["plateau", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "pip install 'qtrain[plot]'" in result.output
    assert "n=2" not in result.output and not (tmp_path / "o").exists()
