"""Everything ``prepare`` can refuse is refused before any run folder, named by key and file."""

import pytest
import yaml

import qtrain as qt
from qtrain.app.config import load_config, parse_config
from qtrain.app.preflight import in_file, keyed
from qtrain.app.runner import gradient_from_config, plan_from_config, prepare
from qtrain.errors import ConfigError, ObservableError, StorageError

BASE = {
    "name": "pre",
    "seed": 1,
    "circuit": {"ansatz": "hardware_efficient", "n_qubits": 10, "layers": 1},
    "observable": "Z0",
    "optimizer": {"name": "adam", "learning_rate": 0.05},
    "budget": {"max_steps": 3},
}


def written(tmp_path, **overrides):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**BASE, **overrides}))
    return path


@pytest.mark.parametrize("method", ["adjoint", "best"])
def test_adjoint_states_over_the_memory_budget_are_refused_by_prepare(tmp_path, method):
    # One 10-qubit state (64 KiB with working copies) fits 100 kB; the adjoint method's
    # three (ψ, λ, scratch) do not. This used to fail inside the first step, after the run
    # folder and the progress bar existed.
    path = written(tmp_path, gradient={"method": method}, backend={"memory_budget": 100_000})
    config = load_config(path)
    for build in (prepare, gradient_from_config, plan_from_config):
        with pytest.raises(ConfigError) as caught:
            build(config)
        message = str(caught.value)
        assert message.startswith(f"{path}: backend.memory_budget: the adjoint method")
        assert "keeps 3 10-qubit states" in message and "param-shift" in message
    sampled = parse_config(
        {**BASE, "gradient": {"shots": 100}, "backend": {"memory_budget": 100_000}}
    )
    assert prepare(sampled).objective.n_params == 20  # param-shift rows fit one at a time


def test_the_metric_tensor_over_the_memory_budget_is_refused_by_prepare(tmp_path):
    path = written(tmp_path, optimizer={"name": "qng"}, backend={"memory_budget": 200_000})
    with pytest.raises(ConfigError, match=r"run\.yaml: backend\.memory_budget: the metric tensor"):
        prepare(load_config(path))


def test_gradient_options_the_method_refuses_are_named_before_any_step(tmp_path):
    unknown = written(tmp_path, gradient={"method": "finite-diff", "options": {"foo": 1}})
    with pytest.raises(ConfigError, match=r"run\.yaml: gradient\.options: finite-diff does not"):
        prepare(load_config(unknown))  # was a TypeError traceback from the first step
    negative = written(tmp_path, gradient={"method": "finite-diff", "options": {"step": -1}})
    with pytest.raises(qt.QtrainError, match=r"gradient\.options: finite-difference step must"):
        prepare(load_config(negative))


def test_errors_of_the_built_parts_name_their_key_and_the_config_file(tmp_path):
    wire = written(tmp_path, observable="Z0 + Z12")
    with pytest.raises(ObservableError) as caught:  # the type stays: callers may catch it
        prepare(load_config(wire))
    assert str(caught.value).startswith(f"{wire}: observable: observable acts on wire 12")
    theta = written(tmp_path, theta0=[0.1, 0.2])
    with pytest.raises(qt.QtrainError, match=rf"^{theta}: theta0: "):
        prepare(load_config(theta))
    problem = written(
        tmp_path, circuit=None, observable=None, problem={"name": "maxcut", "n_nodes": 40}
    )
    with pytest.raises(qt.QtrainError, match=rf"^{problem}: problem: n_nodes must be"):
        prepare(load_config(problem))
    # A config built in Python has no file: the key alone.
    with pytest.raises(ObservableError, match=r"^observable: observable acts on wire 12"):
        prepare(parse_config({**BASE, "observable": "Z12"}))


def test_keyed_names_the_innermost_key_once_and_in_file_the_file_once():
    with pytest.raises(ObservableError) as caught, in_file("a.yaml"), in_file("a.yaml"):
        with keyed("observable"), keyed("circuit.path"):
            raise ObservableError("bad")
    assert str(caught.value) == "a.yaml: circuit.path: bad"
    with pytest.raises(StorageError) as storage, in_file("a.yaml"), keyed("x"):
        raise StorageError("disk full")
    assert str(storage.value) == "disk full"  # the environment's failure, not the config's
