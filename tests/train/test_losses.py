import numpy as np
import pytest

from qtrain.train.losses import LOSSES


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_weights_are_the_derivative(name):
    loss = LOSSES[name]
    rng = np.random.default_rng(1)
    terms = 1 if loss.single_term else 4
    v = rng.uniform(-0.9, 0.9, terms)
    t = rng.choice([-1.0, 1.0], terms)
    eps = 1e-6
    numeric = [
        (loss.value(v + eps * e, t) - loss.value(v - eps * e, t)) / (2 * eps) for e in np.eye(terms)
    ]
    np.testing.assert_allclose(loss.weights(v, t), numeric, atol=1e-8)


def test_bce_is_finite_at_the_ends():
    loss = LOSSES["bce"]
    v, t = np.array([1.0, -1.0]), np.array([-1.0, 1.0])
    assert np.isfinite(loss.value(v, t)) and np.all(np.isfinite(loss.weights(v, t)))
    assert loss.value(np.array([1.0]), np.array([1.0])) < 1e-8


def test_mse_value_is_the_mean_squared_error():
    assert LOSSES["mse"].value(np.array([0.0, 1.0]), np.array([1.0, 1.0])) == 0.5
