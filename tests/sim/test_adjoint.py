import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qtrain as qt
from qtrain.errors import CircuitError
from qtrain.passes.slots import lower
from qtrain.sim import fast_kernels, kernels
from qtrain.sim.adjoint import _tape, adjoint_jacobian, apply_observable
from qtrain.testing import reference_expval, reference_observable_matrix
from qtrain.testing.strategies import circuits, observables


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n=st.integers(1, 5))
def test_adjoint_apply_observable_matches_dense(data, n):
    obs = data.draw(observables(n))
    rng = np.random.default_rng(n)
    state = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    np.testing.assert_allclose(
        apply_observable(state, obs, n), reference_observable_matrix(obs, n) @ state, atol=1e-12
    )


def test_adjoint_rejects_multi_angle_gates_reading_parameters():
    c = qt.Circuit(1).u3(0, qt.P(0), 0.1, 0.2)
    with pytest.raises(CircuitError, match="U3"):
        adjoint_jacobian(c, (qt.Z(0),), np.array([0.3]))


def test_adjoint_values_are_expectations():
    c = qt.ansatz.strongly_entangling(3, 2)
    theta = np.random.default_rng(0).normal(size=c.n_params)
    obs = (qt.Z(0) @ qt.Z(2), qt.X(1) - 0.5 * qt.Y(0))
    values, jac = adjoint_jacobian(c, obs, theta)
    assert jac.shape == (2, c.n_params)
    np.testing.assert_allclose(values, [qt.expval(c, o, theta) for o in obs], atol=1e-12)


KERNEL_SETS = [kernels, fast_kernels]


def finite_difference(circuit, observable, theta, step=1e-6):
    """Central differences of the dense reference expectation ``(P,)``."""
    grad = np.zeros(theta.size)
    for k in range(theta.size):
        shift = np.zeros(theta.size)
        shift[k] = step
        plus = reference_expval(circuit, observable, theta + shift)
        minus = reference_expval(circuit, observable, theta - shift)
        grad[k] = (plus - minus) / (2 * step)
    return grad


def test_adjoint_step_kernels_follow_gate_metadata():
    c = qt.Circuit(3).h(0).rz(0, qt.P(0)).phase(1, qt.P(1)).ry(2, qt.P(2)).rx(0, qt.P(3))
    c = c.cnot(0, 1).cz(0, 2).swap(1, 2).cnot(2, 0).crx(0, 1, qt.P(4)).rzz(1, 2, qt.P(5))
    c = c.ry(1, 0.3)
    kinds = [step.kind for step in _tape(c).steps][::-1]  # the tape walks backwards
    assert kinds == [
        "matrix",  # H
        "diag_1q",  # RZ: diagonal
        "diag_1q",  # PhaseShift: diagonal
        "real_1q",  # RY: real at every angle
        "dense_1q",  # RX: neither
        "cnot",  # a lone CNOT: swapped in place
        "diagonal",  # CZ
        "gather",  # SWAP and CNOT: one gather undoes the run
        "wide",  # CRX
        "wide",  # RZZ
        "matrix",  # RY at a fixed angle: an undo only
    ]


@pytest.mark.parametrize("chosen", KERNEL_SETS, ids=["numpy", "numba"])
def test_adjoint_chain_rule_through_tied_scaled_offset_parameters(chosen):
    c = qt.Circuit(3).h(0).ry(0, 2 * qt.P(0) + 0.3).rz(1, -qt.P(0) + qt.P(1)).cnot(0, 1)
    c = c.phase(2, 0.5 * qt.P(1) - 0.2).ry(2, qt.P(2)).crz(2, 0, 3 * qt.P(2)).rx(1, qt.P(1))
    obs = qt.Z(0) @ qt.X(2) + 0.4 * qt.Y(1)
    theta = np.array([0.7, -1.1, 2.3])
    _, jac = adjoint_jacobian(c, (obs,), theta, chosen)
    np.testing.assert_allclose(jac[0], finite_difference(c, obs, theta), atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), circuit=circuits(max_qubits=4, max_ops=12, max_params=3))
def test_adjoint_kernel_sets_agree_with_finite_differences(data, circuit):
    program = lower(circuit)  # single-angle gates with a generator, slot angles
    observable = data.draw(observables(circuit.n_qubits))
    angles = program.angles(np.random.default_rng(3).uniform(-3, 3, (1, circuit.n_params)))[0]
    reference = finite_difference(program.circuit, observable, angles)
    results = [adjoint_jacobian(program.circuit, (observable,), angles, k) for k in KERNEL_SETS]
    for values, jac in results:
        assert values[0] == pytest.approx(reference_expval(program.circuit, observable, angles))
        np.testing.assert_allclose(jac[0], reference, atol=1e-6)
    np.testing.assert_allclose(results[0][1], results[1][1], atol=1e-12)


def test_adjoint_without_observables_is_empty():
    c = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1)
    values, jac = adjoint_jacobian(c, (), np.array([0.2]))
    assert values.shape == (0,) and jac.shape == (0, 1)
