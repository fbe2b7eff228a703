import math

import numpy as np
import pytest

import qtrain as qt
from qtrain.optim import Adam, Observation, Rosalin

H2 = qt.problems.h2()  # STO-3G at 0.7414 Å, UCC double excitation


def test_rosalin_shot_rule_matches_icans():
    alpha, lip, mu, b = 0.1, 2.0, 0.9, 1e-6
    opt = Rosalin(learning_rate=alpha, lipschitz=lip, mu=mu, b=b, initial_shots=20, min_shots=2)
    state = opt.init(np.zeros(3))
    grad, stderr = np.array([0.5, 0.05, -0.2]), np.array([0.5, 1.0, 0.3])
    shots = np.array([20, 20, 20])
    obs = Observation(0.0, grad, gradient_stderr=stderr, shots_per_component=shots)
    step = opt.update(state, np.zeros(3), obs)
    xi = (1 - mu) * stderr**2 * shots / (1 - mu)
    chi = (1 - mu) * grad / (1 - mu)
    s = np.ceil(2 * lip * alpha / (2 - lip * alpha) * xi / (chi**2 + b))
    gamma = ((alpha - lip * alpha**2 / 2) * chi**2 - lip * alpha**2 / (2 * s) * xi) / s
    cap = max(s[np.argmax(gamma)], 2)
    assert s.tolist() == [5, 1778, 10]  # the three regimes: signal, noise, in between
    assert step.state["shots"] == np.clip(s, 2, cap).astype(int).tolist()
    np.testing.assert_allclose(step.theta, -alpha * grad)


def test_rosalin_asks_for_its_shots_per_component():
    opt = Rosalin(lipschitz=1.0, initial_shots=12)
    request = opt.ask(opt.init(np.zeros(4)))
    assert request.shots_per_component.tolist() == [12] * 4


def test_rosalin_needs_learning_rate_below_two_over_l():
    with pytest.raises(qt.ConfigError, match="2/L"):
        Rosalin(learning_rate=1.0, lipschitz=2.5)


def test_rosalin_needs_error_bars():
    opt = Rosalin(lipschitz=1.0)
    with pytest.raises(qt.ConfigError, match="standard errors"):
        opt.update(opt.init(np.zeros(1)), np.zeros(1), Observation(0.0, np.ones(1)))


def test_rosalin_reaches_chemical_accuracy_on_h2_with_fewer_shots_than_fixed_shots():
    objective = qt.Objective.from_problem(H2)
    accuracy = 1.6e-3  # chemical accuracy, Hartree
    budget = qt.Budget(max_steps=60)
    frugal = qt.fit(objective, [0.0], Rosalin(learning_rate=0.2), seed=11, budget=budget)
    fixed = qt.fit(objective, [0.0], Adam(0.05), shots=1000, seed=11, budget=budget)
    assert abs(frugal.final_loss - H2.exact_value) < accuracy
    assert abs(fixed.final_loss - H2.exact_value) < accuracy
    assert frugal.shots < fixed.shots / 10
    assert all(r.loss_stderr is not None and math.isfinite(r.loss_stderr) for r in frugal.history)
    shots_per_step = [r.shots for r in frugal.history]
    assert shots_per_step[0] < max(shots_per_step)  # it spends more as the gradient shrinks
