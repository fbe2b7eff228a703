import numpy as np
import pytest

import qtrain as qt
from qtrain.problems.base import LOSSES, Problem, check_int, check_seed

ONE = qt.Circuit(1).ry(0, qt.P(0))
TWO = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1).rz(1, qt.P(1))


def _problem(**overrides):
    fields = {
        "name": "demo",
        "description": "demo",
        "circuits": (ONE,),
        "observables": (qt.Z(0),),
        "theta0": np.zeros(1),
    }
    fields.update(overrides)
    return Problem(**fields)


def test_problem_normalises_and_freezes_its_fields():
    theta = [0.1]
    p = _problem(circuits=[ONE], observables=[qt.Z(0)], theta0=theta, metadata={"a": [1, 2]})
    assert isinstance(p.circuits, tuple) and isinstance(p.observables, tuple)
    assert p.theta0.dtype == np.float64 and not p.theta0.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        p.theta0[0] = 1.0
    theta[0] = 5.0
    assert p.theta0[0] == 0.1  # a copy
    with pytest.raises(AttributeError):
        p.loss = "mean"  # frozen
    assert p.metadata == {"a": [1, 2]} and p.n_terms == 1 and p.n_params == 1


def test_problem_loss_values():
    assert _problem().loss_value(np.array([-0.5])) == -0.5
    mean = _problem(circuits=(ONE, ONE), observables=(qt.Z(0), qt.X(0)), loss="mean")
    assert mean.loss_value(np.array([1.0, 0.0])) == 0.5
    mse = _problem(circuits=(ONE, ONE), observables=(qt.Z(0),) * 2, loss="mse", targets=[1.0, -1.0])
    assert mse.loss_value(np.array([0.0, 0.0])) == 1.0
    assert mse.report(np.array([1.0, -1.0])) == {"loss": 0.0}
    assert set(LOSSES) == {"expval", "mean", "mse"}


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"circuits": ()}, "at least one circuit"),
        ({"observables": (qt.Z(0), qt.Z(0))}, "one observable per circuit"),
        ({"theta0": np.zeros(2)}, "n_params=1, expected len"),
        ({"theta0": np.zeros((1, 1))}, "1-D"),
        ({"theta0": [float("nan")]}, "finite"),
        ({"observables": (qt.Z(1),)}, "wire 1"),
        ({"circuits": (ONE, TWO), "observables": (qt.Z(0),) * 2, "loss": "mean"}, "n_params"),
        ({"loss": "mae"}, r"\['expval', 'mean', 'mse'\]"),
        ({"circuits": (ONE, ONE), "observables": (qt.Z(0),) * 2}, "exactly one term"),
        ({"loss": "mse"}, "targets are required"),
        ({"targets": [1.0]}, "targets are required"),
        ({"loss": "mse", "targets": [1.0, 2.0]}, "1 entries"),
        ({"exact_value": float("inf")}, "exact_value"),
        ({"metadata": {"x": np.zeros(2)}}, "JSON-ready"),
        ({"metadata": {"x": float("nan")}}, "JSON-ready"),
    ],
)
def test_problem_rejects_inconsistent_fields(overrides, text):
    with pytest.raises(qt.ConfigError, match=text):
        _problem(**overrides)


def test_problem_rejects_bad_term_values():
    with pytest.raises(qt.ConfigError, match="1 entries"):
        _problem().report(np.array([1.0, 2.0]))


def test_check_int_and_seed():
    assert check_int(4, "layers", 1, 4) == 4 and check_seed(np.int64(3)) == 3
    for bad in (0, 5, True, 1.0, "2"):
        with pytest.raises(qt.ConfigError, match=r"layers must be an int >= 1 and <= 4"):
            check_int(bad, "layers", 1, 4)
    with pytest.raises(qt.ConfigError, match="seed"):
        check_seed(-1)
