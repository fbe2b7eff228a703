import numpy as np
import pytest

import qtrain as qt
from qtrain.optim import SPSA, Observation


def test_spsa_gain_sequences_follow_spall():
    opt = SPSA(learning_rate=0.5, perturbation=0.3, alpha=0.602, gamma=0.101, stability=2.0)
    state = opt.init(np.zeros(1))
    for k in range(4):
        request = opt.ask(state)
        assert request.method == "spsa"
        assert request.options["step"] == pytest.approx(0.3 / (k + 1) ** 0.101)
        step = opt.update(state, np.zeros(1), Observation(0.0, np.ones(1)))
        assert step.learning_rate == pytest.approx(0.5 / (2.0 + k + 1) ** 0.602)
        state = step.state


def test_spsa_calibration_makes_the_first_step_the_target_magnitude():
    opt = SPSA(learning_rate=None, target_magnitude=0.05, stability=3.0)
    state = opt.init(np.zeros(3))
    gradient = np.array([4.0, -4.0, 4.0])  # an SPSA estimate has one magnitude
    step = opt.update(state, np.zeros(3), Observation(0.0, gradient))
    np.testing.assert_allclose(np.abs(step.theta), 0.05)
    assert step.state["a"] == pytest.approx(0.05 * 4.0**0.602 / 4.0)


def test_spsa_trains_a_vqe_through_the_gradient_engine():
    circuit = qt.ansatz.hardware_efficient(2, 1)
    H = qt.Z(0) + qt.Z(1)
    result = qt.fit(
        qt.Objective.single(circuit, H),
        np.full(circuit.n_params, 0.4),
        SPSA(directions=2),
        shots=2000,
        seed=5,
        budget=qt.Budget(max_steps=150),
    )
    assert result.final_loss < -1.9
    assert {r.method for r in result.history} == {"spsa"}
    assert all(r.circuits == 2 * 2 + 1 for r in result.history)  # 2 directions + value row


def test_spsa_rejects_bad_directions():
    with pytest.raises(qt.ConfigError, match="directions"):
        SPSA(directions=0)
