"""Hessian and metric tensor against finite differences of independent oracles."""

import numpy as np
import pytest
from hypothesis import given, settings

import qtrain as qt
from qtrain.errors import GradientError, ParameterShapeError
from qtrain.grad.metric_tensor import slot_layers
from qtrain.passes.slots import lower
from qtrain.problems.h2 import h2_ansatz
from qtrain.testing import reference_state
from qtrain.testing.strategies import circuits

C = (
    qt.Circuit(3)
    .ry(0, qt.P(0))
    .cnot(0, 1)
    .crx(0, 1, 2 * qt.P(1) + 0.3)
    .rz(1, qt.P(0))
    .u3(2, qt.P(1), 0.2, -qt.P(2))
    .rzz(1, 2, qt.P(2) - qt.P(0))
)
H = qt.Observable.parse("0.5 Z0 Z1 - 1.2 X1 + 0.7 Y0 Y2")
THETA = np.array([0.4, -0.7, 1.1])


def fd_hessian(circuit, observable, theta, eps=1e-5):
    def gradient(t):
        return qt.grad(circuit, observable, t, method="adjoint").value

    rows = [
        (gradient(theta + eps * e) - gradient(theta - eps * e)) / (2 * eps)
        for e in np.eye(theta.size)
    ]
    return np.array(rows).reshape(theta.size, theta.size)


def fd_metric(circuit, theta, eps=1e-4):
    """Richardson-extrapolated central differences, ``(4·g(ε/2) - g(ε)) / 3``.

    The ε² error of plain central differences grows as the fourth power of a parameter's
    total scale: hypothesis found RX(3θ)·RX(1.5θ)·RX(4θ), where it is 4e-6 at ε = 1e-4.
    """
    return (4 * central_metric(circuit, theta, eps / 2) - central_metric(circuit, theta, eps)) / 3


def central_metric(circuit, theta, eps):
    """g_kl = -½ ∂²F/∂δ_k∂δ_l at 0, F(δ) = |⟨ψ(θ)|ψ(θ+δ)⟩|², by central differences."""
    psi = reference_state(circuit, theta)

    def fidelity(delta):
        return abs(psi.conj() @ reference_state(circuit, theta + delta)) ** 2

    n = theta.size
    eye = np.eye(n) * eps
    g = np.zeros((n, n))
    for k in range(n):
        for m in range(n):
            second = (
                fidelity(eye[k] + eye[m])
                - fidelity(eye[k] - eye[m])
                - fidelity(-eye[k] + eye[m])
                + fidelity(-eye[k] - eye[m])
            ) / (4 * eps * eps)
            g[k, m] = -0.5 * second
    return g


def test_hessian_matches_finite_differences_of_exact_gradient():
    h = qt.hessian(C, H, THETA)
    assert h.value.shape == (3, 3) and h.stderr is None
    np.testing.assert_allclose(h.value, h.value.T, atol=1e-12)
    np.testing.assert_allclose(h.value, fd_hessian(C, H, THETA), atol=1e-7)
    assert h.fun == pytest.approx(qt.expval(C, H, THETA), abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(circuit=circuits(max_qubits=3, max_ops=6, max_params=3))
def test_hessian_on_random_circuits(circuit):
    theta = np.linspace(-1.1, 0.9, circuit.n_params)
    observable = qt.Z(0) + 0.5 * qt.X(circuit.n_qubits - 1)
    np.testing.assert_allclose(
        qt.hessian(circuit, observable, theta).value,
        fd_hessian(circuit, observable, theta),
        atol=2e-6,
    )


def test_hessian_with_shots_has_honest_error_bars():
    exact = qt.hessian(C, H, THETA).value
    sampled = qt.hessian(C, H, THETA, shots=4000, seed=3)
    assert sampled.stderr.shape == (3, 3) and sampled.shots > 0
    z = (sampled.value - exact) / sampled.stderr
    assert np.all(np.abs(z) < 5)


def test_metric_tensor_matches_fidelity_finite_differences():
    g = qt.metric_tensor(C, THETA)
    np.testing.assert_allclose(g, g.T, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(g) > -1e-12)  # positive semi-definite
    np.testing.assert_allclose(g, fd_metric(C, THETA), atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(circuit=circuits(max_qubits=3, max_ops=6, max_params=3))
def test_metric_tensor_on_random_circuits(circuit):
    theta = np.linspace(-0.8, 1.3, circuit.n_params)
    np.testing.assert_allclose(
        qt.metric_tensor(circuit, theta), fd_metric(circuit, theta), atol=2e-6
    )


def test_metric_tensor_single_qubit_analytic():
    # RX(a) then RY(b) on |0⟩: g = diag(1/4, cos²(a)/4) — the textbook QNG example.
    c = qt.Circuit(1).rx(0, qt.P(0)).ry(0, qt.P(1))
    a, b = 0.7, -0.3
    np.testing.assert_allclose(
        qt.metric_tensor(c, [a, b]), np.diag([0.25, np.cos(a) ** 2 / 4]), atol=1e-12
    )


def test_metric_tensor_block_diag_keeps_layer_blocks():
    c = qt.ansatz.hardware_efficient(3, 2)
    theta = np.random.default_rng(2).normal(size=c.n_params)
    full = qt.metric_tensor(c, theta)
    block = qt.metric_tensor(c, theta, approx="block-diag")
    layers = slot_layers(lower(c))
    same = layers[:, None] == layers[None, :]
    np.testing.assert_allclose(block[same], full[same], atol=1e-12)
    assert np.all(block[~same] == 0) and np.any(full[~same] != 0)
    # the first RY layer acts on |0…0⟩: its block is diag(1/4) (Var of Y/2 on |0⟩)
    np.testing.assert_allclose(block[:3, :3], np.eye(3) / 4, atol=1e-12)


def test_second_order_bad_input():
    with pytest.raises(GradientError, match="approx"):
        qt.metric_tensor(C, THETA, approx="diag-ish")
    with pytest.raises(ParameterShapeError):
        qt.metric_tensor(C, np.zeros((2, 3)))
    with pytest.raises(ParameterShapeError):
        qt.hessian(C, H, THETA[:2])
    with pytest.raises(qt.StateTooLargeError, match="metric tensor keeps"):
        qt.metric_tensor(C, THETA, backend=qt.LocalSimulator(memory_budget=16 * 4 * 8 * 3))


def test_metric_tensor_block_diag_is_exact_on_a_parameter_tied_across_layers():
    # H2's double excitation: eight sequential PauliRots tied to one parameter. A per-layer
    # mask alone would keep 8 × (1/8)² of the parameter's own metric (1/32 instead of 1/4).
    for theta in (0.0, 0.3):
        block = qt.metric_tensor(h2_ansatz(), [theta], approx="block-diag")
        np.testing.assert_allclose(block, qt.metric_tensor(h2_ansatz(), [theta]), atol=1e-12)
        np.testing.assert_allclose(block, [[0.25]], atol=1e-12)
    tied = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1).ry(1, qt.P(1)).cnot(1, 0).ry(0, 2 * qt.P(0))
    theta = np.array([0.4, -0.7])
    full, block = qt.metric_tensor(tied, theta), qt.metric_tensor(tied, theta, approx="block-diag")
    assert block[0, 0] == pytest.approx(full[0, 0], abs=1e-12)  # g_kk exact for tied k
