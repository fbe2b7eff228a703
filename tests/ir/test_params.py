import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import ParameterIndexError, ParameterValueError
from qtrain.ir.params import arg_from_json, arg_to_json, as_arg, evaluate_arg


def test_param_affine_expression_evaluates_rowwise():
    expr = 2 * qt.P(1) + 0.3
    theta = np.array([[1.0, 2.0], [0.0, -1.0]])
    np.testing.assert_allclose(expr.evaluate(theta), [4.3, -1.7])
    assert expr.terms == ((1, 2.0),) and expr.offset == 0.3


def test_param_negation_subtraction_and_division():
    expr = 0.5 - qt.P(0) / 4 - (qt.P(2) - qt.P(0))
    theta = np.array([[4.0, 9.0, 1.0]])
    np.testing.assert_allclose(expr.evaluate(theta), [0.5 - 1.0 - (1.0 - 4.0)])
    assert expr.indices == (0, 2)


def test_param_cancellation_gives_constant():
    assert as_arg(qt.P(0) - qt.P(0) + 1.5) == 1.5
    assert (3 * qt.P(1) - 3 * qt.P(1)).is_constant


def test_param_numpy_scalars_scale_expressions():
    expr = np.float64(2.0) * qt.P(0)
    assert isinstance(expr, qt.ParamExpr) and expr.terms == ((0, 2.0),)


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True, None])
def test_param_index_must_be_non_negative_int(bad):
    with pytest.raises(ParameterIndexError, match=repr(bad) if bad != -1 else "-1"):
        qt.P(bad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1j])
def test_param_non_finite_constants_rejected(bad):
    with pytest.raises(ParameterValueError):
        qt.P(0) + bad
    with pytest.raises(ParameterValueError):
        qt.Circuit(1).rx(0, bad)


def test_param_division_by_zero_rejected():
    with pytest.raises(ParameterValueError, match="divide"):
        qt.P(0) / 0


def test_param_json_round_trip():
    for arg in [0.25, qt.P(3), -2 * qt.P(0) + qt.P(5) * 0.5 - 1.0]:
        assert arg_from_json(arg_to_json(arg)) == arg


def test_param_constant_argument_evaluates_to_constant_rows():
    np.testing.assert_allclose(evaluate_arg(0.7, np.zeros((3, 2))), [0.7, 0.7, 0.7])


def test_param_str_is_readable():
    assert str(2 * qt.P(1) + 0.3) == "2·θ1 + 0.3"
    assert str(-qt.P(0)) == "-θ0"
    assert str(qt.P(0) - 0.5) == "θ0 - 0.5"
