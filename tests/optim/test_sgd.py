import json

import numpy as np
import pytest

import qtrain as qt
from qtrain.optim import GradientDescent, Observation


def quadratic(theta):
    """L = ½ θᵀAθ with a known minimum at 0."""
    a = np.diag([1.0, 4.0])
    return 0.5 * theta @ a @ theta, a @ theta


def run(opt, theta, steps, state=None):
    state = opt.init(theta) if state is None else state
    for _ in range(steps):
        loss, grad = quadratic(theta)
        step = opt.update(state, theta, Observation(loss, grad))
        theta, state = step.theta, step.state
    return theta, state


def test_sgd_momentum_matches_hand_computation():
    opt = GradientDescent(learning_rate=0.1, momentum=0.9)
    theta = np.array([1.0, 1.0])
    state = opt.init(theta)
    first = opt.update(state, theta, Observation(0.0, np.array([1.0, 2.0])))
    second = opt.update(first.state, first.theta, Observation(0.0, np.array([1.0, 2.0])))
    # v1 = g, v2 = 0.9 g + g = 1.9 g
    np.testing.assert_allclose(first.theta, [0.9, 0.8])
    np.testing.assert_allclose(second.theta, [0.9 - 0.19, 0.8 - 0.38])


def test_sgd_nesterov_uses_the_look_ahead_direction():
    opt = GradientDescent(learning_rate=0.1, momentum=0.5, nesterov=True)
    state = opt.init(np.zeros(1))
    step = opt.update(state, np.zeros(1), Observation(0.0, np.array([2.0])))
    # v = g = 2; direction = g + μ v = 3
    np.testing.assert_allclose(step.theta, [-0.3])


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_sgd_converges_on_a_quadratic(momentum):
    theta, _ = run(
        GradientDescent(learning_rate=0.2, momentum=momentum), np.array([1.0, -1.0]), 200
    )
    assert np.linalg.norm(theta) < 1e-8


def test_sgd_state_round_trips_through_json_bit_for_bit():
    opt = GradientDescent(learning_rate=0.1, momentum=0.7, schedule=qt.optim.Exponential(0.97))
    straight, _ = run(opt, np.array([0.3, -0.7]), 20)
    half, state = run(opt, np.array([0.3, -0.7]), 10)
    state = json.loads(json.dumps(state))
    resumed, _ = run(opt, half, 10, state)
    assert straight.tobytes() == resumed.tobytes()


def test_sgd_schedule_scales_the_learning_rate():
    opt = GradientDescent(learning_rate=1.0, schedule=qt.optim.Step(every=1, factor=0.5))
    state = opt.init(np.zeros(1))
    rates = []
    for _ in range(3):
        step = opt.update(state, np.zeros(1), Observation(0.0, np.ones(1)))
        rates.append(step.learning_rate)
        state = step.state
    assert rates == [1.0, 0.5, 0.25]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"learning_rate": 0}, "learning_rate"), ({"momentum": 1.0}, "momentum")],
)
def test_sgd_rejects_bad_hyperparameters(kwargs, fragment):
    with pytest.raises(qt.ConfigError, match=fragment):
        GradientDescent(**kwargs)
