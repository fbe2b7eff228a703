import numpy as np

import qtrain as qt


def test_observation_reports_shots_per_component():
    objective = qt.Objective.single(qt.ansatz.hardware_efficient(2, 1), qt.Z(0))
    theta = np.zeros(objective.n_params)
    evaluation = objective.evaluate(theta, method="param-shift", shots=50, seed=1)
    observation = evaluation.observation(qt.ShotPolicy.fixed(50))
    assert observation.shots_per_component.tolist() == [50] * objective.n_params
    policy = qt.ShotPolicy.components([10] * objective.n_params)
    assert evaluation.observation(policy).shots_per_component.tolist() == [10] * 4
    assert evaluation.observation(None).shots_per_component is None
    np.testing.assert_array_equal(observation.gradient, evaluation.gradient)


def test_evaluation_records_the_calibration_ids_of_a_drifting_backend():
    objective = qt.Objective.single(qt.Circuit(1).ry(0, qt.P(0)), qt.Z(0))
    drifting = qt.FaultyBackend(
        qt.LocalSimulator(), seed=0, drift_per_call=1e-4, recalibrate_every=1
    )
    evaluation = objective.evaluate([0.1], method="param-shift", shots=10, seed=1, backend=drifting)
    assert evaluation.calibration_ids
