import numpy as np
import pytest

import qtrain as qt
from qtrain.optim import QNG, GradientDescent, Observation
from qtrain.testing import reference_observable_matrix

H2 = qt.problems.h2()  # STO-3G at 0.7414 Å, UCC double excitation


def test_qng_solves_with_the_regularised_metric():
    opt = QNG(learning_rate=0.1, regularization=0.5)
    metric = np.array([[1.0, 0.2], [0.2, 0.5]])
    grad = np.array([0.3, -0.4])
    step = opt.update(opt.init(np.zeros(2)), np.zeros(2), Observation(0.0, grad, metric=metric))
    expected = -0.1 * np.linalg.solve(metric + 0.5 * np.eye(2), grad)
    np.testing.assert_allclose(step.theta, expected, rtol=1e-12)


def test_qng_with_identity_metric_is_gradient_descent():
    qng, sgd = QNG(learning_rate=0.2, regularization=0.0), GradientDescent(learning_rate=0.2)
    grad = np.array([1.0, -3.0])
    obs = Observation(0.0, grad, metric=np.eye(2))
    a = qng.update(qng.init(np.zeros(2)), np.zeros(2), obs).theta
    b = sgd.update(sgd.init(np.zeros(2)), np.zeros(2), obs).theta
    np.testing.assert_allclose(a, b)


def test_qng_requires_the_metric():
    opt = QNG()
    with pytest.raises(qt.ConfigError, match="metric"):
        opt.update(opt.init(np.zeros(1)), np.zeros(1), Observation(0.0, np.ones(1)))


def test_qng_reaches_the_h2_ground_state_in_few_steps():
    objective = qt.Objective.from_problem(H2)
    qng = qt.fit(objective, [0.0], QNG(learning_rate=0.2), budget=qt.Budget(max_steps=15))
    sgd = qt.fit(objective, [0.0], GradientDescent(0.2), budget=qt.Budget(max_steps=15))
    assert abs(qng.final_loss - H2.exact_value) < 1e-6
    assert abs(qng.final_loss - H2.exact_value) < abs(sgd.final_loss - H2.exact_value)


def test_qng_rejects_an_unknown_approximation():
    with pytest.raises(qt.ConfigError, match="approx"):
        QNG(approx="diagonal")


def steps_to_target(objective, theta0, optimizer, target):
    result = qt.fit(
        objective,
        theta0,
        optimizer,
        method="adjoint",
        stop=qt.StopRules(target=target),
        budget=qt.Budget(max_steps=400),
    )
    assert result.stopped_by == "target"
    return result.steps


@pytest.mark.parametrize("rate", [0.02, 0.05, 0.1, 0.2])
def test_qng_needs_fewer_steps_than_gradient_descent_at_the_same_rate(rate):
    # A transverse-field Ising VQE whose metric is far from a multiple of the identity.
    circuit = qt.ansatz.hardware_efficient(3, 2)
    H = qt.Z(0) @ qt.Z(1) + qt.Z(1) @ qt.Z(2) + 0.5 * (qt.X(0) + qt.X(1) + qt.X(2))
    objective = qt.Objective.single(circuit, H)
    theta0 = np.random.default_rng(1).normal(0.0, 0.3, circuit.n_params)
    ground = np.linalg.eigvalsh(reference_observable_matrix(H, 3))[0]
    target = ground + 0.02
    gd = steps_to_target(objective, theta0, GradientDescent(rate), target)
    qng = steps_to_target(objective, theta0, QNG(rate, approx="full"), target)
    assert qng < gd
