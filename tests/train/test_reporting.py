import numpy as np
import pytest

import qtrain as qt
from qtrain.train.reporting import run_summary, step_record
from qtrain.train.state import RunState


def test_step_record_and_summary():
    objective = qt.Objective.single(qt.Circuit(1).ry(0, qt.P(0)), qt.Z(0))
    evaluation = objective.evaluate(np.array([0.3]), method="param-shift", shots=100, seed=1)
    state = RunState.fresh(np.array([0.3]), qt.optim.Adam(), seed=1)
    state.shots_total = 50
    record = step_record(state, evaluation, 0.1, 600, 0.01)
    assert record.step == 0 and record.shots == 600 and record.shots_total == 650
    assert record.loss == evaluation.loss and record.grad_snr > 0 and record.monitor is None
    summary = run_summary(state, "max_steps", -0.9, exact_value=-1.0, config_hash="h", seed=1)
    assert summary["error"] == pytest.approx(0.1) and summary["last_loss"] is None
    assert run_summary(state, "x", None, exact_value=-1.0, config_hash="h", seed=1)["error"] is None
