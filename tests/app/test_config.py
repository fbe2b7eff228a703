from pathlib import Path

import pytest

import qtrain as qt
from qtrain.app.config import load_config, parse_config

EXAMPLES = sorted(
    p
    for p in (Path(__file__).resolve().parents[2] / "examples").glob("*.yaml")
    if not p.name.startswith("plateau")  # scan configs: tests/train/test_plateau.py
)
BASE = {"problem": {"name": "h2"}, "optimizer": {"name": "adam"}}


def error_of(data):
    with pytest.raises(qt.ConfigError) as info:
        parse_config(data)
    return str(info.value)


def test_config_defaults():
    config = parse_config(BASE)
    assert config.budget.max_steps == 100 and config.gradient.shots is None
    assert config.backend.name == "local" and config.store is True and config.seed is None


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_config_is_valid(path):
    assert load_config(path).name


def test_unknown_keys_name_the_allowed_ones():
    message = error_of({**BASE, "budjet": {}})
    assert "budjet: unknown key" in message and "budget" in message and "optimizer" in message
    message = error_of({**BASE, "budget": {"max_step": 3}})
    allowed = "(allowed: max_steps, max_shots, max_seconds, max_cost)"
    assert f"budget.max_step: unknown key {allowed}" in message


def test_wrong_types_and_impossible_values_name_the_key():
    assert "budget.max_steps" in error_of({**BASE, "budget": {"max_steps": "ten"}})
    assert "budget.max_steps" in error_of({**BASE, "budget": {"max_steps": 0}})
    assert "gradient.shots" in error_of({**BASE, "gradient": {"shots": 1}})
    message = error_of({**BASE, "gradient": {"method": "backprop"}})
    assert "gradient.method" in message and "'param-shift'" in message


def test_optimizer_and_problem_sections_are_checked_by_their_registries():
    message = error_of({**BASE, "optimizer": {"name": "lbfgs"}})
    assert "optimizer" in message and "choose one of sgd, adam" in message
    message = error_of({**BASE, "optimizer": {"name": "adam", "lr": 0.1}})
    assert "no option 'lr'; allowed: learning_rate" in message
    assert "learning_rate" in error_of({**BASE, "optimizer": {"name": "adam", "learning_rate": -1}})
    message = error_of({"problem": {"name": "lih"}})
    assert "unknown problem 'lih'" in message and "h2" in message
    message = error_of({"problem": {"name": "h2", "bond": 0.7}})
    assert "unknown key 'bond'" in message and "bond_length" in message


def test_faulty_backend_rates_are_checked():
    message = error_of({**BASE, "backend": {"name": "faulty", "failure": 0.3}})
    assert "unknown key 'failure'" in message and "failure_rate" in message
    assert "failure_rate" in error_of({**BASE, "backend": {"name": "faulty", "failure_rate": 2}})
    assert "backend" in error_of({**BASE, "backend": {"name": "ibm"}})


def test_objective_must_be_a_problem_or_a_circuit_and_observable():
    assert "either problem" in error_of({"optimizer": {"name": "adam"}})
    both = {**BASE, "circuit": {"ansatz": "hardware_efficient", "n_qubits": 2}}
    assert "either problem" in error_of(both)
    circuit_only = {"circuit": {"ansatz": "hardware_efficient", "n_qubits": 2}}
    assert "both circuit and observable" in error_of(circuit_only)
    assert "needs n_qubits" in error_of(
        {"circuit": {"ansatz": "hardware_efficient"}, "observable": "Z0"}
    )


def test_load_config_file_errors(tmp_path):
    with pytest.raises(qt.ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("problem: [h2\n")
    with pytest.raises(qt.ConfigError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- h2\n")
    with pytest.raises(qt.ConfigError, match="expected a mapping"):
        load_config(tmp_path / "list.yaml")


def test_monitor_section_is_validated():
    config = parse_config({**BASE, "monitor": {"policy": "stop", "window": 3}})
    assert config.monitor is not None and config.monitor.policy == "stop"
    assert config.monitor.threshold == 1.0 and parse_config(BASE).monitor is None
    assert "monitor.policy" in error_of({**BASE, "monitor": {"policy": "pause"}})
    assert "monitor.window" in error_of({**BASE, "monitor": {"window": 0}})
    assert "needs layers" in error_of({**BASE, "monitor": {"policy": "layerwise"}})
    message = error_of({**BASE, "monitor": {"treshold": 2}})
    assert "monitor.treshold: unknown key (allowed: policy, threshold, window" in message
    layered = parse_config({**BASE, "monitor": {"policy": "layerwise", "layers": [[0], [1]]}})
    assert layered.monitor is not None and layered.monitor.layers == [[0], [1]]
