import inspect

import numpy as np
import pytest

import qtrain as qt
from qtrain.problems import PROBLEMS, Problem, build


def test_registry_lists_the_builtin_problems():
    assert sorted(PROBLEMS) == ["classifier", "h2", "maxcut"]
    assert qt.problems.h2 is PROBLEMS["h2"].builder
    assert qt.problems.maxcut is PROBLEMS["maxcut"].builder
    assert qt.problems.classifier is PROBLEMS["classifier"].builder
    for name, info in PROBLEMS.items():
        assert info.name == name and "\n" not in info.description and info.description
        signature = inspect.signature(info.builder).parameters
        assert dict(info.options) == {k: v.default for k, v in signature.items()}
    assert PROBLEMS["h2"].options == {
        "bond_length": 0.7414,
        "ansatz": "ucc",
        "layers": 2,
        "seed": 0,
    }


@pytest.mark.parametrize("name", ["h2", "maxcut", "classifier"])
def test_registry_builds_every_problem_with_defaults(name):
    problem = build(name)
    assert isinstance(problem, Problem) and problem.name == name
    assert problem.description and "\n" not in problem.description
    assert len(problem.circuits) == len(problem.observables)
    assert all(c.n_params == len(problem.theta0) for c in problem.circuits)
    np.testing.assert_array_equal(problem.theta0, build(name).theta0)  # deterministic
    values = np.zeros(problem.n_terms)
    assert "loss" in problem.report(values)


def test_registry_passes_options_through():
    assert build("h2", bond_length=1.0, ansatz="hea", layers=1).n_params == 8
    assert build("classifier", n_points=3).n_terms == 3


def test_registry_rejects_unknown_problem():
    with pytest.raises(qt.ConfigError, match=r"'nope'.*\['classifier', 'h2', 'maxcut'\]"):
        build("nope")


def test_registry_rejects_unknown_option():
    with pytest.raises(qt.ConfigError, match=r"\['bogus'\].*'h2'.*bond_length=0\.7414.*seed=0"):
        build("h2", bogus=1)


def test_registry_bad_values_are_config_errors():
    with pytest.raises(qt.ConfigError, match="layers"):
        build("maxcut", layers="2")
