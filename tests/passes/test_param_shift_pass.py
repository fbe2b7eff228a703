import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import qtrain as qt
from qtrain.errors import ParameterIndexError, ParameterShapeError, PassError, UnknownGateError
from qtrain.passes.core import is_analysis, is_transform
from qtrain.testing.reference import reference_expval
from qtrain.testing.strategies import circuits, thetas


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


# Restricting the pass to chosen gates or parameters (issue 14).

QAOA = (
    qt.Circuit(3)
    .h(0)
    .h(1)
    .h(2)
    .rzz(0, 1, qt.P(0))
    .rzz(1, 2, 2 * qt.P(0))
    .rx(0, qt.P(1))
    .rx(1, qt.P(1))
    .rx(2, qt.P(1))
    .rzz(0, 2, qt.P(2))
    .ry(1, qt.P(3))
)
QAOA_OBS = [qt.Z(0) @ qt.Z(1), qt.X(1) + 0.5 * qt.Z(2)]
QAOA_THETA = np.array([0.4, -0.7, 1.1, 0.25])


def jacobian_from(plan, observables):
    """``(O, K)`` from the plan, each circuit evaluated by the dense reference simulator."""
    values = np.array([[reference_expval(c, o) for o in observables] for c in plan.circuits])
    return plan.recombine(values)


def full_jacobian(circuit, observables, theta):
    return qt.jacobian(circuit, observables, theta, method="adjoint").value


def test_param_shift_pass_restricted_to_gates_equals_full_columns_and_plans_fewer_circuits():
    full = qt.ParameterShiftPass()(QAOA, QAOA_THETA)
    zz = qt.ParameterShiftPass(gates={"RZZ"})(QAOA, QAOA_THETA)
    assert zz.params == (0, 2)  # the parameters the RZZs read; P(1), P(3) feed only RX, RY
    assert len(zz.circuits) == 1 + 2 * 3 < len(full.circuits) == 1 + 2 * 7
    expected = full_jacobian(QAOA, QAOA_OBS, QAOA_THETA)[:, [0, 2]]
    np.testing.assert_allclose(jacobian_from(zz, QAOA_OBS), expected, atol=1e-12)
    np.testing.assert_allclose(jacobian_from(full, QAOA_OBS)[:, [0, 2]], expected, atol=1e-12)


def test_param_shift_pass_restricted_to_params_shifts_every_tied_slot():
    c = qt.Circuit(2).ry(0, qt.P(0)).crx(0, 1, 2 * qt.P(1) + 0.3).rz(1, -qt.P(0)).rxx(0, 1, qt.P(2))
    obs = [qt.X(0) @ qt.Z(1), qt.Y(1)]
    theta = np.array([0.4, -1.2, 0.9])
    plan = qt.ParameterShiftPass(params=[0])(c, theta)
    assert plan.params == (0,) and plan.slots == (0, 2)  # RY and RZ both read θ0
    assert len(plan.circuits) == 1 + 2 + 2 < 1 + 2 + 4 + 2 + 2
    np.testing.assert_allclose(
        jacobian_from(plan, obs), full_jacobian(c, obs, theta)[:, [0]], atol=1e-12
    )
    two = qt.ParameterShiftPass(params=[2, 1])(c, theta)
    assert two.params == (1, 2) and len(two.circuits) == 1 + 4 + 2
    np.testing.assert_allclose(
        jacobian_from(two, obs), full_jacobian(c, obs, theta)[:, [1, 2]], atol=1e-12
    )


def test_param_shift_pass_gate_restriction_of_a_shared_parameter_freezes_other_gates():
    # θ0 feeds an RZZ and an RX, θ1 an RY and an RZZ: gates={"RZZ"} differentiates through the
    # RZZs only, i.e. the derivative of the circuit whose RX and RY read θ's current values.
    def build(rx_angle, ry_angle):
        c = qt.Circuit(2).ry(0, 0.3).h(1).rzz(0, 1, qt.P(0)).rx(0, rx_angle).ry(1, ry_angle)
        return c.rzz(0, 1, qt.P(1)).crx(1, 0, 0.5)

    theta = np.array([0.6, -0.4])
    shared, frozen = build(qt.P(0), qt.P(1)), build(theta[0], theta[1])
    obs = qt.X(0) @ qt.Y(1) + qt.Z(1) + 0.7 * qt.Y(0)
    plan = qt.ParameterShiftPass(gates={"RZZ"})(shared, theta)
    assert plan.params == (0, 1) and len(plan.circuits) == 1 + 2 + 2
    h = 1e-5
    finite_diff = [
        (
            reference_expval(frozen, obs, theta + h * e)
            - reference_expval(frozen, obs, theta - h * e)
        )
        / (2 * h)
        for e in np.eye(2)
    ]
    gradient = jacobian_from(plan, [obs])[0]
    np.testing.assert_allclose(gradient, finite_diff, atol=1e-8)
    full = qt.grad(shared, obs, theta, method="adjoint").value
    assert np.all(np.abs(gradient - full) > 0.3)  # the RX's and RY's shares are left out


def test_param_shift_pass_gates_and_params_together_intersect():
    plan = qt.ParameterShiftPass(gates="rzz", params=[0])(QAOA, QAOA_THETA)
    assert plan.params == (0,) and len(plan.circuits) == 1 + 2 * 2
    np.testing.assert_allclose(
        jacobian_from(plan, QAOA_OBS),
        full_jacobian(QAOA, QAOA_OBS, QAOA_THETA)[:, [0]],
        atol=1e-12,
    )
    # a chosen parameter that no chosen gate reads has derivative 0 through those gates
    none = qt.ParameterShiftPass(gates={"RZZ"}, params=[1])(QAOA, QAOA_THETA)
    assert none.params == (1,) and len(none.circuits) == 1
    np.testing.assert_array_equal(jacobian_from(none, QAOA_OBS), np.zeros((2, 1)))


def test_param_shift_pass_u3_slots_count_as_the_u3_not_its_rotations():
    c = qt.Circuit(1).u3(0, qt.P(0), qt.P(1), qt.P(2)).rz(0, qt.P(3))
    theta = np.array([0.3, -0.2, 0.8, 0.5])
    u3 = qt.ParameterShiftPass(gates={"U"})(c, theta)  # alias of U3
    assert u3.params == (0, 1, 2) and u3.slots == (0, 1, 2)
    rz = qt.ParameterShiftPass(gates={"RZ"})(c, theta)
    assert rz.params == (3,) and rz.slots == (3,)
    np.testing.assert_allclose(
        jacobian_from(u3, [qt.X(0)]), full_jacobian(c, [qt.X(0)], theta)[:, :3], atol=1e-12
    )


@settings(max_examples=25, deadline=None)
@given(data=st.data(), circuit=circuits(max_qubits=3, max_ops=8))
def test_param_shift_pass_any_parameter_subset_equals_those_columns(data, circuit):
    assume(circuit.n_params > 0)
    chosen = data.draw(
        st.lists(st.integers(0, circuit.n_params - 1), min_size=1, unique=True), label="params"
    )
    theta = data.draw(thetas(circuit.n_params))[0]
    obs = [qt.Z(0), qt.X(circuit.n_qubits - 1)]
    plan = qt.ParameterShiftPass(params=chosen)(circuit, theta)
    full = qt.ParameterShiftPass()(circuit, theta)
    assert plan.params == tuple(sorted(chosen)) and len(plan.circuits) <= len(full.circuits)
    np.testing.assert_allclose(
        jacobian_from(plan, obs), jacobian_from(full, obs)[:, sorted(chosen)], atol=1e-10
    )


def test_param_shift_pass_unrestricted_plan_reports_every_column():
    plan = qt.ParameterShiftPass()(QAOA, QAOA_THETA)
    assert plan.params == (0, 1, 2, 3) and plan.slots == tuple(range(7))
    assert plan.weights.shape == (len(plan.circuits), 4)


@pytest.mark.parametrize(
    ("options", "error", "pattern"),
    [
        ({"gates": {"RZZZ"}}, UnknownGateError, r"'RZZZ'; did you mean RZZ.*Differentiable.*RX"),
        ({"gates": {"CNOT"}}, PassError, r"CNOT takes no angle.*Differentiable gates: .*CRX"),
        ({"gates": set()}, PassError, "selects no gate"),
        ({"params": []}, PassError, "selects no parameter"),
        ({"params": [-1]}, ParameterIndexError, r"-1 is not a parameter index"),
        ({"params": [True]}, ParameterIndexError, r"True is not a parameter index"),
        ({"params": ["0"]}, ParameterIndexError, r"'0' is not a parameter index"),
    ],
)
def test_param_shift_pass_rejects_bad_options_naming_them(options, error, pattern):
    with pytest.raises(error, match=pattern):
        qt.ParameterShiftPass(**options)


def test_param_shift_pass_restriction_must_fit_the_circuit():
    with pytest.raises(ParameterIndexError, match=r"\[4, 7\] out of range.*valid indices 0\.\.3"):
        qt.ParameterShiftPass(params=[1, 4, 7])(QAOA, QAOA_THETA)
    with pytest.raises(PassError, match=r"\['CRX'\].*trainable gates are \['RX', 'RY', 'RZZ'\]"):
        qt.ParameterShiftPass(gates={"crx"})(QAOA, QAOA_THETA)


def test_param_shift_pass_is_an_analysis_value():
    restricted = qt.ParameterShiftPass(gates=["rzz", "CP"], params=np.array([2, 0]))
    assert is_analysis(restricted) and not is_transform(restricted)
    assert restricted.gates == {"RZZ", "CPhase"} and restricted.params == (0, 2)
    assert restricted.describe() == {
        "name": "parameter-shift",
        "gates": ["CPhase", "RZZ"],
        "params": [0, 2],
    }
    same = qt.ParameterShiftPass(gates={"CPhase", "RZZ"}, params=(0, 2, 2))
    assert same == restricted and hash(same) == hash(restricted)
    assert same.fingerprint() == restricted.fingerprint() != qt.ParameterShiftPass().fingerprint()
    assert repr(restricted) == "ParameterShiftPass(gates=['CPhase', 'RZZ'], params=[0, 2])"
    assert repr(qt.ParameterShiftPass(params=3)) == "ParameterShiftPass(params=[3])"
