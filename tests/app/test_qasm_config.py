"""``circuit: {qasm: path.qasm}`` in run configs: relative to the config file, errors keyed."""

import numpy as np
import pytest
import yaml

import qtrain as qt
from qtrain.app.config import load_config, parse_config
from qtrain.app.runner import prepare
from qtrain.interop import qasm

PROGRAM = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] gamma;
input float[64] beta;
qubit[2] q;
bit[2] c;
h q;
rzz(2.0*gamma + 0.3) q[0], q[1];
rx(-beta/2) q[1];
c = measure q;
"""


def write_config(folder, circuit, **extra):
    data = {
        "name": "from-qasm",
        "seed": 3,
        "circuit": circuit,
        "observable": "Z0 Z1 + 0.5 X1",
        "optimizer": {"name": "adam", "learning_rate": 0.05},
        "budget": {"max_steps": 2},
        **extra,
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_qasm_circuit_path_is_relative_to_the_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "configs"
    (folder / "circuits").mkdir(parents=True)
    (folder / "circuits" / "c.qasm").write_text(PROGRAM)
    config_path = write_config(folder, {"qasm": "circuits/c.qasm"})
    monkeypatch.chdir(tmp_path)  # not the config's folder
    config = load_config(config_path)
    assert config.circuit is not None
    assert config.circuit.qasm == folder / "circuits" / "c.qasm"
    prepared = prepare(config)
    (circuit,) = prepared.objective.circuits
    assert circuit == qasm.loads(PROGRAM)
    assert prepared.objective.n_params == 2 and np.all(prepared.theta0 == 0.0)
    assert [op.gate for op in circuit.ops] == ["H", "H", "RZZ", "RX"]


def test_a_qasm_file_that_does_not_parse_is_one_config_error_naming_key_file_and_line(tmp_path):
    bad = PROGRAM.replace("rx(-beta/2)", "rx(beta*gamma)")
    (tmp_path / "bad.qasm").write_text(bad)
    with pytest.raises(qt.ConfigError) as info:
        load_config(write_config(tmp_path, {"qasm": "bad.qasm"}))
    message = str(info.value)
    assert "circuit.qasm:" in message and str(tmp_path / "bad.qasm") in message
    assert "line 9, at '*'" in message and "non-affine" in message
    assert message.count("\n") == 1  # the heading and one problem


def test_a_missing_qasm_file_or_two_circuit_sources_are_config_errors(tmp_path):
    with pytest.raises(qt.ConfigError, match=r"circuit\.qasm: .*missing\.qasm: no such file"):
        load_config(write_config(tmp_path, {"qasm": "missing.qasm"}))
    (tmp_path / "c.qasm").write_text(PROGRAM)
    both = {"qasm": str(tmp_path / "c.qasm"), "ansatz": "hardware_efficient", "n_qubits": 2}
    with pytest.raises(qt.ConfigError, match="give one of ansatz"):
        parse_config({**yaml.safe_load(write_config(tmp_path, both).read_text())})


def test_a_qasm_file_changed_after_validation_is_a_config_error_when_built(tmp_path):
    path = tmp_path / "c.qasm"
    path.write_text(PROGRAM)
    config = load_config(write_config(tmp_path, {"qasm": "c.qasm"}))
    path.write_text(PROGRAM.replace("h q;", "hh q;"))
    with pytest.raises(qt.ConfigError, match=r"circuit\.qasm: .*line 7, at 'hh': unknown gate"):
        prepare(config)
