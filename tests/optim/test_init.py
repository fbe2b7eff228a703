import json

import numpy as np
import pytest

import qtrain as qt


@pytest.mark.parametrize("name", sorted(qt.optim.OPTIMIZERS))
def test_every_optimizer_round_trips_its_config_and_state(name):
    options = {"rosalin": {"lipschitz": 1.0}}.get(name, {})
    optimizer = qt.optim.from_config({"name": name, **options})
    assert qt.optim.from_config(json.loads(json.dumps(optimizer.config()))) == optimizer
    state = optimizer.init(np.zeros(3))
    assert json.loads(json.dumps(state)) == state
    assert isinstance(optimizer, qt.optim.Optimizer)


def test_from_config_errors_name_the_allowed_values():
    with pytest.raises(qt.ConfigError, match="choose one of sgd, adam, spsa, qng, rosalin"):
        qt.optim.from_config({"name": "lbfgs"})
    with pytest.raises(qt.ConfigError, match="no option 'lr'; allowed: learning_rate"):
        qt.optim.from_config({"name": "adam", "lr": 0.1})


CURVATURE = np.array([1.0, 3.0, 0.5])


def quadratic_loss(theta):
    return 0.5 * float(CURVATURE @ theta**2)


def stand_in_observation(request, theta, rng, noise=0.05):
    """What a measurement of the quadratic would return, honouring the request."""
    if request.method == "spsa":
        c = request.options["step"]
        delta = rng.choice([-1.0, 1.0], theta.size)
        diff = quadratic_loss(theta + c * delta) - quadratic_loss(theta - c * delta)
        return qt.optim.Observation(quadratic_loss(theta), diff / (2 * c) * delta)
    shots = request.shots_per_component
    stderr = noise / np.sqrt(shots) if shots is not None else None
    gradient = CURVATURE * theta
    if stderr is not None:
        gradient = gradient + rng.normal(size=theta.size) * stderr
    metric = np.diag(CURVATURE) / 4 if request.metric_tensor else None
    return qt.optim.Observation(
        quadratic_loss(theta),
        gradient,
        gradient_stderr=stderr,
        shots_per_component=shots,
        metric=metric,
    )


@pytest.mark.parametrize("name", sorted(qt.optim.OPTIMIZERS))
def test_every_optimizer_decreases_a_convex_quadratic(name):
    options = {
        "rosalin": {"lipschitz": 3.0, "learning_rate": 0.3},
        "qng": {"learning_rate": 0.1},
        "sgd": {"learning_rate": 0.3},
        "adam": {"learning_rate": 0.05},
    }.get(name, {})
    optimizer = qt.optim.from_config({"name": name, **options})
    rng = np.random.default_rng(0)
    theta = np.array([1.0, -1.0, 2.0])
    state = optimizer.init(theta)
    start = quadratic_loss(theta)
    for _ in range(200):
        observation = stand_in_observation(optimizer.ask(state), theta, rng)
        step = optimizer.update(state, theta, observation)
        theta, state = step.theta, step.state
    assert quadratic_loss(theta) < 0.01 * start


@pytest.mark.parametrize("name", sorted(qt.optim.OPTIMIZERS))
def test_every_optimizer_decreases_a_small_vqe(name):
    circuit = qt.ansatz.hardware_efficient(2, 1)
    objective = qt.Objective.single(circuit, qt.Z(0) + qt.Z(1) + 0.5 * qt.X(0) @ qt.X(1))
    theta0 = np.full(circuit.n_params, 0.4)
    shots = None if name == "qng" else 500
    result = qt.fit(
        objective,
        theta0,
        qt.optim.from_config({"name": name}),
        shots=shots,
        seed=2,
        budget=qt.Budget(max_steps=60),
    )
    assert result.final_loss < objective.exact_loss(theta0) - 0.5
