import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qtrain as qt
from qtrain.testing import reference_expval
from qtrain.testing.strategies import circuits, observables

H2 = qt.problems.h2()  # STO-3G at 0.7414 Å, UCC double excitation


def data_circuits():
    """Two one-qubit 'data points' sharing two parameters (a tiny classifier)."""
    c1 = qt.Circuit(1).ry(0, qt.P(0) + 0.2).rz(0, qt.P(1)).rx(0, 0.7)
    c2 = qt.Circuit(1).ry(0, qt.P(0) - 0.5).rx(0, 2 * qt.P(1))
    return c1, c2


def mse_objective():
    c1, c2 = data_circuits()
    return qt.Objective((c1, c2), (qt.Z(0), qt.Z(0)), "mse", np.array([1.0, -1.0]))


def reference_loss(objective, theta):
    values = np.array(
        [
            reference_expval(c, o, theta[: c.n_params])
            for c, o in zip(objective.circuits, objective.observables, strict=True)
        ]
    )
    return objective.loss_fn.value(values, objective.targets)


def numeric_gradient(objective, theta, eps=1e-6):
    return np.array(
        [
            (
                reference_loss(objective, theta + eps * e)
                - reference_loss(objective, theta - eps * e)
            )
            / (2 * eps)
            for e in np.eye(theta.size)
        ]
    )


@pytest.mark.parametrize("method", ["adjoint", "param-shift", "finite-diff", "best"])
def test_objective_single_term_equals_qt_grad(method):
    circuit, H = H2.circuits[0], H2.observables[0]
    theta = np.array([0.17])
    evaluation = qt.Objective.single(circuit, H).evaluate(theta, method=method)
    reference = qt.grad(circuit, H, theta, method=method)
    np.testing.assert_allclose(evaluation.gradient, reference.value, atol=1e-9)
    assert evaluation.loss == pytest.approx(reference_expval(circuit, H, theta), abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), first=circuits(max_qubits=3, max_ops=8, max_params=3))
def test_objective_mean_of_random_terms_matches_the_dense_reference(data, first):
    second = data.draw(circuits(min_qubits=first.n_qubits, max_qubits=first.n_qubits, max_ops=8))
    if max(first.n_params, second.n_params) == 0:
        return
    o1 = data.draw(observables(first.n_qubits, max_terms=3))
    o2 = data.draw(observables(second.n_qubits, max_terms=3))
    objective = qt.Objective((first, second), (o1, o2), "mean")
    theta = np.random.default_rng(0).uniform(-3, 3, objective.n_params)
    evaluation = objective.evaluate(theta, method="param-shift")
    assert evaluation.loss == pytest.approx(reference_loss(objective, theta), abs=1e-9)
    np.testing.assert_allclose(evaluation.gradient, numeric_gradient(objective, theta), atol=1e-6)


@pytest.mark.parametrize("method", ["param-shift", "adjoint"])
def test_objective_mse_gradient_is_the_chain_rule(method):
    objective = mse_objective()
    theta = np.array([0.3, -0.4])
    evaluation = objective.evaluate(theta, method=method)
    np.testing.assert_allclose(evaluation.gradient, numeric_gradient(objective, theta), atol=1e-8)
    assert evaluation.loss == pytest.approx(reference_loss(objective, theta), abs=1e-12)
    assert evaluation.term_values.shape == (2,)


def test_objective_sampled_error_bars_match_the_spread_over_seeds():
    objective = mse_objective()
    theta = np.array([0.3, -0.4])
    runs = [objective.evaluate(theta, method="param-shift", shots=400, seed=s) for s in range(300)]
    grads = np.array([r.gradient for r in runs])
    losses = np.array([r.loss for r in runs])
    reported = np.mean([r.gradient_stderr for r in runs], axis=0)
    # Delta-method error bars against the empirical spread over 300 seeds (±20 %).
    np.testing.assert_allclose(grads.std(axis=0, ddof=1), reported, rtol=0.2)
    loss_err = np.mean([r.loss_stderr for r in runs])
    assert losses.std(ddof=1) == pytest.approx(loss_err, rel=0.2)
    exact = objective.evaluate(theta, method="adjoint").gradient
    z = (grads.mean(axis=0) - exact) / (reported / np.sqrt(len(runs)))
    assert np.all(np.abs(z) < 4)


def test_objective_terms_never_share_sampling_noise():
    circuit = qt.Circuit(1).ry(0, qt.P(0))
    twin = qt.Circuit(1).ry(0, qt.P(0)).rz(0, 0.0)  # same state, another circuit
    objective = qt.Objective((circuit, twin), (qt.X(0), qt.X(0)), "sum")
    values = np.array(
        [
            objective.evaluate([0.4], method="param-shift", shots=50, seed=s).term_values
            for s in range(200)
        ]
    )
    assert abs(np.corrcoef(values.T)[0, 1]) < 0.25


def test_objective_terms_on_one_circuit_run_together():
    circuit = qt.ansatz.hardware_efficient(2, 1)
    objective = qt.Objective((circuit, circuit), (qt.Z(0), qt.X(1)), "sum")
    tasks, _ = objective.plan(np.zeros(circuit.n_params), method="param-shift")
    assert len(tasks) == 1 and len(tasks[0].observables) == 2


def test_objective_spsa_measures_the_loss_at_theta():
    objective = qt.Objective.from_problem(H2)
    tasks, assemble = objective.plan(
        np.array([0.1]), method="spsa", shots=100, seed=3, options={"step": 0.1}
    )
    assert [t.params.shape[0] for t in tasks] == [2, 1]
    evaluation = assemble(qt.LocalSimulator().run(tasks))
    exact = reference_expval(H2.circuits[0], H2.observables[0], np.array([0.1]))
    assert abs(evaluation.loss - exact) < 5 * evaluation.loss_stderr


def test_objective_circuits_may_read_fewer_parameters():
    short = qt.Circuit(1).ry(0, qt.P(0))
    long = qt.Circuit(1).ry(0, qt.P(0)).rx(0, qt.P(1))
    objective = qt.Objective((short, long), (qt.Z(0), qt.Z(0)), "sum")
    theta = np.array([0.2, 0.5])
    evaluation = objective.evaluate(theta, method="adjoint")
    np.testing.assert_allclose(evaluation.gradient, numeric_gradient(objective, theta), atol=1e-8)


def test_objective_metric_tensor_on_request_and_its_limits():
    objective = qt.Objective.from_problem(H2)
    _, assemble = objective.plan(np.array([0.1]), method="adjoint", metric="full")
    assert assemble([]).metric == pytest.approx(np.array([[0.25]]))
    with pytest.raises(qt.ConfigError, match="single-circuit"):
        mse_objective().plan(np.zeros(2), metric="full")
    faulty = qt.FaultyBackend(qt.LocalSimulator(), seed=0)
    with pytest.raises(qt.ConfigError, match="local simulator"):
        objective.plan(np.array([0.1]), method="param-shift", metric="full", backend=faulty)


def test_objective_exact_loss_and_fingerprint():
    objective = mse_objective()
    theta = np.array([0.1, 0.9])
    assert objective.exact_loss(theta) == pytest.approx(reference_loss(objective, theta))
    c1, c2 = data_circuits()
    same = qt.Objective((c1, c2), (qt.Z(0), qt.Z(0)), "mse", [1.0, -1.0])
    other = qt.Objective((c1, c2), (qt.Z(0), qt.Z(0)), "mse", [1.0, 1.0])
    assert objective.fingerprint() == same.fingerprint() != other.fingerprint()


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda c: qt.Objective((c,), (), "expval"), "one observable per circuit"),
        (lambda c: qt.Objective((c,), (qt.Z(0),), "hinge"), "unknown loss 'hinge'"),
        (lambda c: qt.Objective((c,), (qt.Z(0),), "mse"), "needs targets"),
        (lambda c: qt.Objective((c, c), (qt.Z(0), qt.Z(0)), "expval"), "one term"),
        (lambda c: qt.Objective((c,), (qt.Z(3),), "expval"), "wire"),
        (lambda c: qt.Objective((c,), (qt.Z(0),), "mse", [1.0, 2.0]), "targets must be 1"),
    ],
)
def test_objective_rejects_bad_definitions(build, fragment):
    with pytest.raises(qt.QtrainError, match=fragment):
        build(qt.Circuit(1).ry(0, qt.P(0)))


def test_objective_rejects_theta_of_the_wrong_shape():
    with pytest.raises(qt.ParameterError, match=r"shape \(2,\)"):
        mse_objective().evaluate(np.zeros(3))


def test_objective_lipschitz_bound():
    objective = qt.Objective.single(qt.Circuit(1).ry(0, qt.P(0)), 0.5 * qt.Z(0) - 2 * qt.X(0))
    assert objective.lipschitz_bound() == pytest.approx(2.5)
