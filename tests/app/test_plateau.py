import json
from pathlib import Path

import pytest

import qtrain as qt
from qtrain.app.plateau import load_plateau_config, parse_plateau_config, scan_from_config

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("plateau*.yaml"))
SMALL = {"qubits": [2, 3, 4], "depths": 2, "samples": 30, "resamples": 200, "seed": 2}


def error_of(data):
    with pytest.raises(qt.ConfigError) as info:
        parse_plateau_config(data)
    return str(info.value)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_plateau_configs_are_valid(path):
    config = load_plateau_config(path)
    assert config.qubits and config.samples >= 100


def test_defaults_and_specs():
    config = parse_plateau_config({"qubits": [2], "depths": [1, 2]})
    assert (config.ansatz, config.costs, config.params, config.method) == (
        "mcclean",
        ["global"],
        [0],
        "auto",
    )
    inits = ["uniform", {"name": "normal", "width": 0.2}]
    config = parse_plateau_config({**SMALL, "costs": ["local", "Z0 Z1"], "inits": inits})
    assert config.cost_specs() == {"local": "local", "Z0 Z1": qt.Z(0) @ qt.Z(1)}
    assert config.init_specs() == ["uniform", {"name": "normal", "width": 0.2}]


def test_errors_name_the_key():
    assert "qubits: Field required" in error_of({"depths": 1})
    assert "ansatz: unknown ansatz 'hea'; choose one of mcclean" in error_of(
        {**SMALL, "ansatz": "hea"}
    )
    assert "costs: cost 'energy' is neither" in error_of({**SMALL, "costs": ["energy"]})
    message = error_of({**SMALL, "samples": 2})
    assert "samples: Input should be greater than or equal to 4" in message
    assert "samplez: unknown key (allowed: name, seed, ansatz" in error_of({**SMALL, "samplez": 9})
    assert "not a valid plateau config" in error_of({**SMALL, "level": 2})


def test_scan_from_config_writes_json_csv_and_png(tmp_path):
    config = parse_plateau_config(
        {**SMALL, "name": "small", "costs": ["global", "local"], "output": {"dir": str(tmp_path)}}
    )
    seen = []
    run = scan_from_config(config, on_point=seen.append)
    assert run.directory.parent == tmp_path and run.directory.name.startswith("small-")
    assert set(run.files) == {"json", "csv", "png", "points"}
    assert all(p.exists() for p in run.files.values())
    assert len(seen) == len(run.result.points) == 6 and run.result.settings["seed"] == 2
    saved = qt.diagnostics.ScanResult.from_dict(json.loads(run.files["json"].read_text()))
    assert saved == run.result
    quiet = parse_plateau_config({**SMALL, "output": {"plot": False}})
    assert "png" not in scan_from_config(quiet, output=tmp_path / "quiet").files
