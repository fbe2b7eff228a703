import json

import numpy as np
import pytest

import qtrain as qt
from qtrain.optim import Adam, Observation


def test_adam_first_steps_match_hand_computation():
    opt = Adam(learning_rate=0.1, beta1=0.9, beta2=0.99, eps=0.0)
    theta = np.zeros(2)
    state = opt.init(theta)
    g1, g2 = np.array([3.0, -0.5]), np.array([1.0, 1.0])
    s1 = opt.update(state, theta, Observation(0.0, g1))
    s2 = opt.update(s1.state, s1.theta, Observation(0.0, g2))
    m1, v1 = 0.1 * g1, 0.01 * g1**2
    m2, v2 = 0.9 * m1 + 0.1 * g2, 0.99 * v1 + 0.01 * g2**2
    expected1 = -0.1 * (m1 / 0.1) / np.sqrt(v1 / 0.01)
    expected2 = expected1 - 0.1 * (m2 / (1 - 0.81)) / np.sqrt(v2 / (1 - 0.99**2))
    np.testing.assert_allclose(s1.theta, expected1, rtol=1e-14)
    np.testing.assert_allclose(s2.theta, expected2, rtol=1e-14)


def test_adam_converges_on_a_quadratic():
    opt = Adam(learning_rate=0.05)
    theta = np.array([1.0, -2.0])
    state = opt.init(theta)
    for _ in range(2000):
        step = opt.update(state, theta, Observation(0.0, np.array([1.0, 10.0]) * theta))
        theta, state = step.theta, step.state
    assert np.linalg.norm(theta) < 1e-3


def test_adam_state_is_json_and_resumes_exactly():
    opt = Adam(learning_rate=0.03, schedule=qt.optim.Cosine(total_steps=20))
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(20, 3))

    def run(theta, state, rows):
        for g in rows:
            step = opt.update(state, theta, Observation(0.0, g))
            theta, state = step.theta, step.state
        return theta, state

    straight, _ = run(np.ones(3), opt.init(np.ones(3)), grads)
    half, state = run(np.ones(3), opt.init(np.ones(3)), grads[:7])
    resumed, _ = run(half, json.loads(json.dumps(state)), grads[7:])
    assert straight.tobytes() == resumed.tobytes()


def test_adam_config_rebuilds_the_same_optimizer():
    opt = Adam(learning_rate=0.2, beta1=0.5, schedule=qt.optim.InverseTime(0.1))
    rebuilt = qt.optim.from_config(json.loads(json.dumps(opt.config())))
    assert rebuilt == opt


@pytest.mark.parametrize("field", ["beta1", "beta2"])
def test_adam_rejects_betas_outside_the_unit_interval(field):
    with pytest.raises(qt.ConfigError, match=field):
        Adam(**{field: 1.5})
