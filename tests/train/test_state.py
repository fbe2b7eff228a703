import numpy as np
import pytest

import qtrain as qt
from qtrain.train.rundir import RunDir
from qtrain.train.state import RunState, as_policy, checked_optimizer, existing_checkpoint


def test_as_policy():
    assert as_policy(None) is None
    assert as_policy(100) == qt.ShotPolicy.fixed(100)
    budget = qt.ShotPolicy.total(1000)
    assert as_policy(budget) is budget
    with pytest.raises(qt.ConfigError, match="shots"):
        as_policy(True)


def test_checked_optimizer_fills_rosalins_lipschitz_constant():
    objective = qt.Objective.single(qt.Circuit(1).ry(0, qt.P(0)), 0.4 * qt.Z(0) + 0.6 * qt.X(0))
    filled = checked_optimizer(qt.optim.Rosalin(learning_rate=0.1), objective)
    assert filled.lipschitz == pytest.approx(1.0)
    bce = qt.Objective((qt.Circuit(1).ry(0, qt.P(0)),), (qt.Z(0),), "bce", [1.0])
    with pytest.raises(qt.ConfigError, match="lipschitz"):
        checked_optimizer(qt.optim.Rosalin(), bce)
    with pytest.raises(qt.ConfigError, match="2/L"):
        checked_optimizer(qt.optim.Rosalin(learning_rate=5.0), objective)


def test_run_state_round_trips_through_a_checkpoint():
    state = RunState.fresh(np.array([0.5]), qt.optim.Adam(), seed=3)
    state.rng.integers(0, 10)
    restored = RunState.restore(state.checkpoint("h", 3, None))
    assert restored.rng.integers(0, 1 << 40) == state.rng.integers(0, 1 << 40)
    assert restored.optimizer_state == state.optimizer_state
    assert restored.monitor_state is None


def test_run_state_carries_the_monitor_state_and_settings_hash_it():
    from qtrain.diagnostics.monitor import GradientMonitor  # noqa: PLC0415 - only here

    monitor = GradientMonitor(policy="layerwise", layers=2)
    state = RunState.fresh(np.zeros(4), qt.optim.Adam(), seed=3, monitor=monitor)
    assert state.monitor_state == monitor.init(4)
    assert RunState.restore(state.checkpoint("h", 3, None)).monitor_state == state.monitor_state


def test_existing_checkpoint_rules(tmp_path):
    run = RunDir(tmp_path).create()
    assert existing_checkpoint(run, resume=True) is None  # nothing to resume: start fresh
    assert existing_checkpoint(None, resume=False) is None


def test_run_state_checkpoint_vouches_for_its_history_and_restores_it():
    from qtrain.testing import make_record  # noqa: PLC0415 - only here

    state = RunState.fresh(np.array([0.5]), qt.optim.Adam(), seed=3)
    state.history += [make_record(k, loss=-k, gradient=(0.1,)) for k in range(3)]
    state.step = 3
    checkpoint = state.checkpoint("h", 3, None)
    assert checkpoint.records == 3 and checkpoint.last_record == state.history[-1]
    restored = RunState.restore(checkpoint, state.history)
    assert restored.history == state.history and restored.history is not state.history
