"""Config mistakes found while reading the file name the file and the key."""

import pytest

from qtrain.app.config import load_config, parse_config
from qtrain.errors import ConfigError

CUSTOM = {
    "seed": 1,
    "circuit": {"ansatz": "hardware_efficient", "n_qubits": 2},
    "observable": "Z0",
    "optimizer": {"name": "adam"},
}


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_an_empty_yaml_file_says_it_is_empty(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path} is empty: expected a mapping of sections"


def test_a_binary_file_is_a_config_error_not_a_traceback(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(ConfigError, match="not a UTF-8 text file"):
        load_config(path)


def test_a_bad_observable_is_refused_at_validation_naming_the_key_and_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "seed: 1\ncircuit: {ansatz: hardware_efficient, n_qubits: 2}\n"
        "observable: Z0 + Q1\noptimizer: {name: adam}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path} is not a valid run config:\n  observable: ")
    assert "'Q1'" in str(caught.value)


@pytest.mark.parametrize("key", ["shots", "budget", "target_stderr"])
def test_adjoint_with_shots_is_refused_at_validation(key):
    value = 0.01 if key == "target_stderr" else 100
    with pytest.raises(ConfigError) as caught:
        parse_config({**CUSTOM, "gradient": {"method": "adjoint", key: value}})
    message = str(caught.value)
    assert "gradient.method: 'adjoint' is exact by construction" in message
    assert f"gradient.{key}" in message and "param-shift" in message


def test_a_config_remembers_its_file_and_a_dict_has_none(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("seed: 1\nproblem: {name: h2}\n")
    config = load_config(path)
    assert config.source == str(path)
    assert config.model_copy(update={"seed": 2}).source == str(path)
    assert parse_config({"problem": {"name": "h2"}}).source is None
