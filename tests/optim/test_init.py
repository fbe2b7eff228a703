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
