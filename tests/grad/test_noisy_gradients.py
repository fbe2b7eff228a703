"""Gradients on noisy backends: param-shift stays exact under noise after gates (issue 15).

The oracle is the dense Kraus reference (``reference_noisy_expval``): central finite
differences of it, with step 1e-5, are accurate to ~1e-10 (rounding 1e-16/h, truncation h²).
"""

import numpy as np
import pytest

import qtrain as qt
from qtrain.ir.circuit import make_op
from qtrain.ir.gates import GATES
from qtrain.noise import (
    amplitude_damping,
    bit_flip,
    depolarizing,
    kraus,
    phase_damping,
    readout_error,
    thermal_relaxation,
)
from qtrain.passes.shift_rules import first_order_rule
from qtrain.testing.reference_noise import (
    random_channel,
    random_noisy_case,
    random_observable,
    reference_noisy_expval,
)

PARAMETRIC = sorted({s.name for s in GATES.values() if s.n_wires > 0 and s.n_params > 0})
FOUR_TERM = [
    n
    for n in PARAMETRIC
    if GATES[n].eigenvalues and len(first_order_rule(GATES[n].eigenvalues)) == 4
]
THETA = np.array([0.37, -1.21, 2.05])
H = qt.Observable.parse("0.5 Z0 Z1 - 1.2 X1 + 0.7 Y0 Y2 + 0.3 X2 + 0.4 Z1 Z2")


def reference_grad(circuit, observable, theta, noise, h=1e-5):
    """Central differences of the dense noisy reference, ``(P,)``."""
    out = np.empty(theta.size)
    for k in range(theta.size):
        e = np.zeros(theta.size)
        e[k] = h
        plus = reference_noisy_expval(circuit, observable, theta + e, noise)
        minus = reference_noisy_expval(circuit, observable, theta - e, noise)
        out[k] = (plus - minus) / (2 * h)
    return out


def embed(name, wires=None, word=""):
    """The gate in context, reading tied, scaled and offset parameters (as test_gradients)."""
    spec = GATES[name]
    wires = list(range(spec.n_wires))[::-1] if wires is None else wires
    args = [2 * qt.P(0) + 0.3, -qt.P(1), 0.5 * qt.P(0) - qt.P(2)][: spec.n_params or 1]
    c = qt.Circuit(3).h(0).ry(1, 0.4).rx(2, -0.8)
    op = make_op(name, wires, args, word=word)
    c = c.append(op).cnot(0, 2).rz(1, qt.P(0)).crx(2, 0, 3 * qt.P(2)).ry(0, qt.P(1) - qt.P(2))
    return c


def model_for(name, width):
    rng = np.random.default_rng(len(name) + width)
    gate_channel = random_channel(rng, width) if width <= 2 else depolarizing(0.1, n_wires=3)
    return (
        qt.NoiseModel()
        .after(name, gate_channel)
        .after(name, amplitude_damping(0.07))
        .after("RY", depolarizing(0.05))  # also an RY inside a decomposed gate, if lowered
        .after("CNOT", thermal_relaxation(50.0, 40.0, 5.0))
        .after("CRX", depolarizing(0.08, n_wires=2))
        .after_all(phase_damping(0.03))
        .before_measure(bit_flip(0.02), [1])
        .readout(readout_error(0.04, 0.09))
    )


def dm(noise, **options):
    return qt.LocalSimulator(noise=noise, method="density_matrix", **options)


def test_noisy_gradients_the_four_term_gates_are_the_controlled_rotations():
    assert set(FOUR_TERM) == {"CRX", "CRY", "CRZ"}


@pytest.mark.parametrize("name", [*PARAMETRIC, "PauliRot"])
def test_noisy_gradients_param_shift_equals_finite_differences_for_every_gate(name):
    if name == "PauliRot":
        c, model = embed(name, [2, 0, 1], word="XYZ"), model_for(name, 1)
    else:
        c, model = embed(name), model_for(name, GATES[name].n_wires)
    theta = THETA[: c.n_params]
    g = qt.grad(c, H, theta, method="param-shift", backend=dm(model))
    expected = reference_grad(c, H, theta, model)
    np.testing.assert_allclose(g.value, expected, atol=1e-6)
    assert g.method == "param-shift" and g.stderr is None
    if g.fun is not None:
        assert g.fun == pytest.approx(reference_noisy_expval(c, H, theta, model), abs=1e-10)
    ideal = reference_grad(c, H, theta, None)
    assert np.max(np.abs(expected - ideal)) > 1e-3  # the noise changes the gradient


@pytest.mark.parametrize(
    "model",
    [
        qt.NoiseModel().after("U3", amplitude_damping(0.3)),  # must act once, after the U3
        qt.NoiseModel().after_all(amplitude_damping(0.3)),  # once per op, not per piece
        qt.NoiseModel().after("RY", amplitude_damping(0.3)),  # the circuit has no RY
    ],
    ids=["after U3", "after_all", "after RY"],
)
def test_noisy_gradients_noise_follows_the_ops_of_the_circuit_not_their_decomposition(model):
    """U3 = PhaseShift·RY·PhaseShift inside the gradient engine; the noise model names ops."""
    c = qt.Circuit(1).u3(0, qt.P(0), 0.3, 0.2)
    theta = np.array([0.7])
    g = qt.grad(c, qt.X(0), theta, method="param-shift", backend=dm(model))
    assert g.value[0] == pytest.approx(reference_grad(c, qt.X(0), theta, model)[0], abs=1e-6)
    if g.fun is not None:
        assert g.fun == pytest.approx(reference_noisy_expval(c, qt.X(0), theta, model), abs=1e-10)


@pytest.mark.parametrize("seed", range(16))
def test_noisy_gradients_param_shift_on_random_noisy_circuits(seed):
    circuit, model, theta = random_noisy_case(seed, n_qubits=int(1 + seed % 3), n_ops=8)
    redraw = seed
    while circuit.n_params == 0:  # no gradient to check: draw another case, not a skip
        redraw += 1000
        circuit, model, theta = random_noisy_case(redraw, n_qubits=int(1 + seed % 3), n_ops=8)
    observable = random_observable(np.random.default_rng(seed), circuit.n_qubits, 3)
    g = qt.grad(circuit, observable, theta, method="param-shift", backend=dm(model))
    np.testing.assert_allclose(
        g.value, reference_grad(circuit, observable, theta, model), atol=1e-6
    )


def test_noisy_gradients_one_parameter_in_several_gates_with_noise_on_each():
    c = qt.Circuit(2).rx(0, qt.P(0)).ry(1, -3 * qt.P(0) + 0.2).crz(0, 1, 0.5 * qt.P(0))
    c = c.rzz(0, 1, 2 * qt.P(0) + 0.3)
    model = (
        qt.NoiseModel()
        .after("RX", thermal_relaxation(30.0, 20.0, 4.0))
        .after(
            "CRZ",
            kraus(
                np.stack(
                    [
                        np.sqrt(0.9) * np.eye(4),
                        np.sqrt(0.1)
                        * np.kron(np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]])),
                    ]
                )
            ),
        )
        .after("RZZ", depolarizing(0.1, n_wires=2))
        .readout(readout_error(0.1, 0.02), 1)
    )
    obs = qt.Y(0) + qt.X(1) + qt.Z(0) @ qt.Z(1)
    theta = np.array([0.9])
    g = qt.grad(c, obs, theta, method="param-shift", backend=dm(model))
    assert g.value[0] == pytest.approx(reference_grad(c, obs, theta, model)[0], abs=1e-6)


def test_noisy_gradients_finite_diff_and_spsa_run_on_a_noisy_backend():
    c = embed("CRY")
    model = model_for("CRY", 2)
    theta = THETA[: c.n_params]
    sim = dm(model)
    expected = reference_grad(c, H, theta, model)
    fd = qt.grad(c, H, theta, method="finite-diff", backend=sim)
    np.testing.assert_allclose(fd.value, expected, atol=1e-6)
    # every one of the 2^(P-1) directions: the average is the gradient up to O(step²)
    spsa = qt.grad(c, H, theta, method="spsa", directions=4, step=1e-4, seed=1, backend=sim)
    np.testing.assert_allclose(spsa.value, expected, atol=1e-6)


@pytest.mark.parametrize("name", ["CRY", "RZX", "U3"])
def test_noisy_gradients_hessian_equals_finite_differences_on_a_noisy_backend(name):
    """Second differences of the reference, step 1e-3: truncation ~1e-7, rounding ~1e-10."""
    c = embed(name)
    model = model_for(name, GATES[name].n_wires)
    theta = THETA[: c.n_params]
    hess = qt.hessian(c, H, theta, backend=dm(model))
    h = 1e-3
    fd_hess = np.empty((3, 3))
    for k in range(3):
        for m in range(3):
            total = 0.0
            for sk, sm in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                shifted = theta.copy()
                shifted[k] += sk * h
                shifted[m] += sm * h
                total += sk * sm * reference_noisy_expval(c, H, shifted, model)
            fd_hess[k, m] = total / (4 * h * h)
    np.testing.assert_allclose(hess.value, fd_hess, atol=1e-5)
    np.testing.assert_allclose(hess.value, hess.value.T, atol=1e-10)


def test_noisy_gradients_sampled_and_shot_policies_on_noisy_backends():
    c = embed("CRX")
    model = model_for("CRX", 2)
    theta = THETA[: c.n_params]
    expected = reference_grad(c, H, theta, model)
    backends = [dm(model), qt.LocalSimulator(noise=model, method="trajectories", trajectories=50)]
    for backend in backends:
        for shots in (4000, qt.ShotPolicy.total(200_000)):
            g = qt.grad(c, H, theta, method="param-shift", shots=shots, seed=2, backend=backend)
            assert g.stderr is not None and np.all(g.stderr > 0)
            assert np.all(np.abs(g.value - expected) < 5 * g.stderr), (g.value, expected, g.stderr)


def test_noisy_gradients_adjoint_refuses_a_noisy_backend_clearly():
    c = embed("RY")
    for sim in (dm(model_for("RY", 1)), qt.LocalSimulator(noise=model_for("RY", 1))):
        with pytest.raises(qt.QtrainError, match=r"(?is)adjoint.*nois"):
            qt.grad(c, H, THETA[: c.n_params], method="adjoint", backend=sim)


def test_noisy_gradients_adjoint_with_readout_only_noise_is_refused_or_exact():
    c = embed("CRZ")
    model = qt.NoiseModel().readout(readout_error(0.1, 0.3))
    theta = THETA[: c.n_params]
    expected = reference_grad(c, H, theta, model)
    assert np.max(np.abs(expected - reference_grad(c, H, theta, None))) > 1e-2
    for method in ("adjoint", "best"):
        try:
            g = qt.grad(c, H, theta, method=method, backend=qt.LocalSimulator(noise=model))
        except qt.QtrainError as exc:  # a refusal is fine, a wrong number is not
            assert method == "adjoint" and "adjoint" in str(exc)
            continue
        np.testing.assert_allclose(g.value, expected, atol=1e-6)


def test_noisy_gradients_best_picks_param_shift_and_records_it():
    c = embed("CRX")
    model = model_for("CRX", 2)
    theta = THETA[: c.n_params]
    for sim in (dm(model), qt.LocalSimulator(noise=model)):
        g = qt.grad(c, H, theta, method="best", backend=sim)
        assert g.method == "param-shift"
        assert g.metadata["chosen_by"] == "best"
        assert "adjoint" in g.metadata["reason"]  # why not the adjoint method
        np.testing.assert_allclose(g.value, reference_grad(c, H, theta, model), atol=1e-6)
        jac = qt.jacobian(c, [H, qt.Z(0)], theta, backend=sim)
        assert jac.method == "param-shift" and jac.metadata["chosen_by"] == "best"
        np.testing.assert_allclose(jac.value[0], g.value, atol=1e-12)
    ideal = qt.grad(c, H, theta, method="best")
    assert ideal.method == "adjoint"  # the ideal simulator keeps its fastest exact method
