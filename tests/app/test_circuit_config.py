"""``circuit: {path: c.json}``: found beside the config, and refused when it is not a circuit."""

import json
import os

import pytest
import yaml

import qtrain as qt
from qtrain.app.circuit_config import load_circuit_file
from qtrain.app.config import load_config
from qtrain.app.runner import prepare
from qtrain.errors import ConfigError


def config_with_path(tmp_path, path):
    config = {
        "seed": 1,
        "circuit": {"path": str(path)},
        "observable": "Z0",
        "optimizer": {"name": "adam"},
    }
    file = tmp_path / "config.yaml"
    file.write_text(yaml.safe_dump(config))
    return file


def test_a_circuit_path_is_relative_to_the_config_file(tmp_path, monkeypatch):
    circuit = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1)
    (tmp_path / "c.json").write_text(json.dumps(circuit.to_dict()))
    config = config_with_path(tmp_path, "c.json")
    monkeypatch.chdir(os.path.dirname(tmp_path))  # not where the config is
    loaded = load_config(config)
    assert loaded.circuit is not None and loaded.circuit.path == tmp_path / "c.json"
    assert prepare(loaded).objective.circuits[0] == circuit


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("other.json", '{"foo": 1}', "not a qtrain circuit dict"),
        ("notes.yaml", "a: [1, 2]\n", "not JSON"),
        ("c.qasm", "OPENQASM 2.0;\n", "an OpenQASM file goes under circuit.qasm"),
        ("missing.json", None, "No such file or directory"),
    ],
)
def test_a_circuit_path_that_is_not_a_circuit_names_the_key_and_both_files(
    tmp_path, name, content, reason
):
    if content is not None:
        (tmp_path / name).write_text(content)
    config = config_with_path(tmp_path, name)
    with pytest.raises(ConfigError) as caught:
        load_config(config)  # at validation: before any run folder
    message = str(caught.value)
    assert message.startswith(f"{config} is not a valid run config:")
    assert "circuit.path: " in message and str(tmp_path / name) in message
    assert reason in message


def test_load_circuit_file_refuses_a_binary_file(tmp_path):
    (tmp_path / "blob.json").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ConfigError, match="not a text file"):
        load_circuit_file(tmp_path / "blob.json")
