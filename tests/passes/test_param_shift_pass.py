import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import ParameterShapeError


def run_everywhere(plan, observable):
    """A user's own executor: evaluate every bound circuit, one by one."""
    return np.array([qt.expval(c, observable) for c in plan.circuits])


def test_param_shift_pass_recombines_to_the_exact_gradient():
    c = qt.Circuit(2).ry(0, qt.P(0)).crx(0, 1, 2 * qt.P(1) + 0.3).rz(1, -qt.P(0)).rxx(0, 1, qt.P(1))
    obs = qt.X(0) @ qt.Z(1) + qt.Y(1)
    theta = np.array([0.4, -1.2])
    plan = qt.ParameterShiftPass()(c, theta)
    assert all(circuit.n_params == 0 for circuit in plan.circuits)  # fully bound
    assert len(plan.circuits) == 1 + 2 + 4 + 2 + 2
    gradient = plan.recombine(run_everywhere(plan, obs))
    np.testing.assert_allclose(gradient, qt.grad(c, obs, theta, method="adjoint").value, atol=1e-12)
    assert qt.expval(plan.circuits[0], obs) == pytest.approx(qt.expval(c, obs, theta))


def test_param_shift_pass_jacobian_from_several_observables():
    c = qt.ansatz.hardware_efficient(2, 1)
    theta = np.array([0.1, 0.2, 0.3, 0.4])
    plan = qt.ParameterShiftPass()(c, theta)
    obs = [qt.Z(0), qt.X(1)]
    values = np.stack([run_everywhere(plan, o) for o in obs], axis=1)
    np.testing.assert_allclose(
        plan.recombine(values), qt.jacobian(c, obs, theta, method="adjoint").value, atol=1e-12
    )


def test_param_shift_pass_checks_shapes():
    c = qt.Circuit(1).rx(0, qt.P(0))
    with pytest.raises(ParameterShapeError, match=r"shape \(1,\)"):
        qt.ParameterShiftPass()(c, np.array([0.1, 0.2]))
    plan = qt.ParameterShiftPass()(c, np.array([0.1]))
    with pytest.raises(ParameterShapeError, match="3 values"):
        plan.recombine(np.zeros(2))


def test_circuit_bind_evaluates_expressions():
    c = qt.Circuit(1).rx(0, 2 * qt.P(0) + 0.5).ry(0, qt.P(1) - qt.P(0))
    bound = c.bind([1.0, 3.0])
    assert [op.args for op in bound.ops] == [(2.5,), (2.0,)] and bound.n_params == 0
    with pytest.raises(ParameterShapeError):
        c.bind([1.0])
