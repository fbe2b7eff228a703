"""Every gradient method against the others, on every parametric gate and random circuits."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qtrain as qt
from qtrain.grad.spsa import _distinct_directions
from qtrain.ir.circuit import make_op
from qtrain.ir.gates import GATES
from qtrain.passes.shift_rules import first_order_rule
from qtrain.passes.slots import lower
from qtrain.testing.strategies import circuits, observables

PARAMETRIC = sorted({s.name for s in GATES.values() if s.n_wires > 0 and s.n_params > 0})
THETA = np.array([0.37, -1.21, 2.05])


def all_methods(circuit, observable, theta):
    exact = {m: qt.grad(circuit, observable, theta, method=m) for m in ("param-shift", "adjoint")}
    exact["finite-diff"] = qt.grad(circuit, observable, theta, method="finite-diff")
    return exact


def embed(name):
    """The gate alone and in context, reading tied, scaled and offset parameters."""
    spec = GATES[name]
    wires = list(range(spec.n_wires))[::-1]
    args = [2 * qt.P(0) + 0.3, -qt.P(1), 0.5 * qt.P(0) - qt.P(2)][: spec.n_params]
    c = qt.Circuit(3).h(0).ry(1, 0.4).rx(2, -0.8)
    c = c.append(make_op(name, wires, args)).cnot(0, 2).rz(1, qt.P(0)).crx(2, 0, 3 * qt.P(2))
    return c


@pytest.mark.parametrize("name", PARAMETRIC)
def test_gradients_agree_for_every_parametric_gate(name):
    c = embed(name)
    H = qt.Observable.parse("0.5 Z0 Z1 - 1.2 X1 + 0.7 Y0 Y2 + 0.3 X2")
    theta = THETA[: c.n_params]
    results = all_methods(c, H, theta)
    ps = results["param-shift"].value
    np.testing.assert_allclose(results["adjoint"].value, ps, atol=1e-10)
    np.testing.assert_allclose(results["finite-diff"].value, ps, atol=1e-8)


@pytest.mark.parametrize("word", ["X", "ZZ", "XYZ", "YIZ"])
def test_gradients_agree_for_pauli_rotations(word):
    c = qt.Circuit(3).h(0).h(1).pauli_rot(word, list(range(len(word))), -2 * qt.P(0) + 0.1)
    c = c.pauli_rot(word[::-1], list(range(len(word)))[::-1], qt.P(0) + qt.P(1))
    results = all_methods(c, qt.X(0) + qt.Y(1) @ qt.Z(2), THETA[:2])
    np.testing.assert_allclose(results["adjoint"].value, results["param-shift"].value, atol=1e-10)
    np.testing.assert_allclose(
        results["finite-diff"].value, results["param-shift"].value, atol=1e-8
    )


@settings(max_examples=60, deadline=None)
@given(data=st.data(), circuit=circuits(max_qubits=4, max_ops=10, max_params=3))
def test_gradients_agree_on_random_circuits(data, circuit):
    observable = data.draw(observables(circuit.n_qubits))
    theta = np.random.default_rng(circuit.n_params).uniform(-3, 3, circuit.n_params)
    results = all_methods(circuit, observable, theta)
    ps = results["param-shift"].value
    np.testing.assert_allclose(results["adjoint"].value, ps, atol=1e-9)
    np.testing.assert_allclose(results["finite-diff"].value, ps, atol=1e-7)


def test_gradients_of_scaled_parameters_are_exact():
    """TyxonQ's ±π/2 shift on rz(2θ) returns 0; the true derivative is -2 sin(2θ)."""
    c = qt.Circuit(1).h(0).rz(0, 2 * qt.P(0)).h(0)
    theta = np.array([0.4])
    g = qt.grad(c, qt.Z(0), theta, method="param-shift")
    assert g.value[0] == pytest.approx(-2 * np.sin(0.8), abs=1e-12)


def test_gradients_one_parameter_in_three_gates():
    c = qt.Circuit(2).rx(0, qt.P(0)).ry(1, -3 * qt.P(0) + 0.2).crz(0, 1, 0.5 * qt.P(0))
    results = all_methods(c, qt.Y(0) + qt.X(1), np.array([0.9]))
    assert results["param-shift"].value[0] == pytest.approx(
        results["finite-diff"].value[0], abs=1e-8
    )
    assert results["param-shift"].value[0] == pytest.approx(results["adjoint"].value[0], abs=1e-11)


def test_gradients_two_term_rule_would_be_wrong_for_controlled_rotations():
    # ⟨X0 Z1⟩ sees both frequencies of CRX (½ and 1); ⟨Z1⟩ alone would hide the ½ one.
    c = qt.Circuit(2).h(0).ry(1, 0.6).crx(0, 1, qt.P(0))
    obs, theta = qt.X(0) @ qt.Z(1), np.array([1.3])
    exact = qt.grad(c, obs, theta, method="adjoint").value[0]
    assert len(first_order_rule(GATES["CRX"].eigenvalues)) == 4
    assert qt.grad(c, obs, theta, method="param-shift").value[0] == pytest.approx(exact, abs=1e-12)
    angles = lower(c).angles(theta[None])[0]
    two_term = 0.5 * (
        qt.expval(lower(c).circuit, obs, angles + np.pi / 2)
        - qt.expval(lower(c).circuit, obs, angles - np.pi / 2)
    )
    assert abs(two_term - exact) > 1e-2


def test_gradients_jacobian_of_several_observables():
    c = qt.ansatz.hardware_efficient(3, 2)
    theta = np.random.default_rng(1).normal(size=c.n_params)
    obs = [qt.Z(0), qt.X(1) @ qt.X(2), qt.Y(2) - qt.Z(1)]
    for method in ("param-shift", "adjoint", "finite-diff"):
        jac = qt.jacobian(c, obs, theta, method=method)
        assert jac.value.shape == (3, c.n_params)
        for o, observable in enumerate(obs):
            np.testing.assert_allclose(
                jac.value[o], qt.grad(c, observable, theta, method="adjoint").value, atol=1e-8
            )
        np.testing.assert_allclose(jac.fun, [qt.expval(c, o, theta) for o in obs], atol=1e-12)


def test_gradients_param_shift_uses_one_batched_task_and_reports_cost():
    c = qt.Circuit(2).ry(0, qt.P(0)).crx(0, 1, qt.P(1))

    class Counting(qt.LocalSimulator):
        def __init__(self):
            super().__init__()
            self.calls = []

        def run(self, tasks):
            self.calls.append(len(tasks))
            return super().run(tasks)

    backend = Counting()
    g = qt.grad(c, qt.Z(1), np.array([0.2, 0.4]), method="param-shift", backend=backend)
    assert backend.calls == [1]
    assert g.n_circuits == 1 + 2 + 4 and g.shots == 0 and g.stderr is None
    assert g.fun == pytest.approx(qt.expval(c, qt.Z(1), np.array([0.2, 0.4])))


def test_gradients_best_records_its_choice():
    c = qt.Circuit(1).rx(0, qt.P(0))
    exact = qt.grad(c, qt.Z(0), [0.3])
    assert exact.method == "adjoint" and exact.metadata["chosen_by"] == "best"
    sampled = qt.grad(c, qt.Z(0), [0.3], shots=100, seed=1)
    assert sampled.method == "param-shift" and sampled.metadata["chosen_by"] == "best"
    assert sampled.stderr is not None and sampled.shots == 100 * 3


def test_gradients_finite_diff_forward_and_spsa():
    c = qt.ansatz.hardware_efficient(2, 1)
    theta = np.array([0.1, 0.7, -0.4, 1.2])
    exact = qt.grad(c, qt.Z(0) + qt.X(1), theta, method="adjoint").value
    fwd = qt.grad(c, qt.Z(0) + qt.X(1), theta, method="finite-diff", scheme="forward", step=1e-7)
    np.testing.assert_allclose(fwd.value, exact, atol=1e-6)
    assert "forward" in fwd.method
    # All 2^(P-1) = 8 directions (up to sign): the average is the gradient up to O(step²),
    # with nothing random left in it (the finite-population correction makes the bar 0).
    spsa = qt.grad(c, qt.Z(0) + qt.X(1), theta, method="spsa", directions=8, seed=3)
    again = qt.grad(c, qt.Z(0) + qt.X(1), theta, method="spsa", directions=8, seed=3)
    np.testing.assert_array_equal(spsa.value, again.value)
    np.testing.assert_allclose(spsa.value, exact, atol=1e-4)
    np.testing.assert_allclose(spsa.stderr, 0.0, atol=1e-12)
    assert spsa.n_circuits == 16
    fewer = qt.grad(c, qt.Z(0) + qt.X(1), theta, method="spsa", directions=5, seed=3)
    assert np.all(np.abs(fewer.value - exact) < 5 * fewer.stderr + 1e-3)


@pytest.mark.parametrize(("n_params", "directions"), [(2, 2), (5, 16), (12, 2048)])
def test_spsa_directions_are_distinct_up_to_sign_even_all_of_them(n_params, directions):
    deltas = _distinct_directions(np.random.default_rng(4), directions, n_params)
    canonical = deltas * deltas[:, :1]
    assert np.all(np.abs(deltas) == 1)
    assert len(np.unique(canonical, axis=0)) == directions
