import threading

import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import ThrottledError, TransientExecutionError
from qtrain.exec.validation import Chunk, invalid_reason

TASK = qt.Task(qt.Circuit(1).ry(0, qt.P(0)), (qt.Z(0),), np.array([[0.3], [0.5]]))


def outcomes(backend, calls=40):
    seen = []
    for _ in range(calls):
        try:
            results = backend.run([TASK, TASK])
            seen.append(tuple(r is None for r in results))
        except ThrottledError:
            seen.append("throttled")
        except TransientExecutionError:
            seen.append("failed")
    return seen


def test_faulty_is_reproducible_from_its_seed():
    rates = {"failure_rate": 0.3, "throttle_rate": 0.2, "partial_rate": 0.3}
    a = outcomes(qt.FaultyBackend(qt.LocalSimulator(), seed=4, **rates))
    b = outcomes(qt.FaultyBackend(qt.LocalSimulator(), seed=4, **rates))
    assert a == b and "failed" in a and "throttled" in a
    assert any(isinstance(o, tuple) and any(o) for o in a)


def test_faulty_throttling_carries_its_hint():
    backend = qt.FaultyBackend(qt.LocalSimulator(), seed=0, throttle_rate=1.0, retry_after_s=0.25)
    with pytest.raises(ThrottledError) as info:
        backend.run([TASK])
    assert info.value.retry_after == 0.25


def test_faulty_drift_grows_and_calibration_changes():
    backend = qt.FaultyBackend(
        qt.LocalSimulator(), seed=0, drift_per_call=0.01, recalibrate_every=2
    )
    exact = qt.LocalSimulator().run([TASK])[0].values
    results = [backend.run([TASK])[0] for _ in range(4)]
    biases = [float(r.values[0, 0] - exact[0, 0]) for r in results]
    np.testing.assert_allclose(biases, [0.01, 0.02, 0.03, 0.04])
    assert [r.metadata["calibration_id"] for r in results] == ["cal-0", "cal-0", "cal-1", "cal-1"]


def test_faulty_corruption_kinds_are_detectable():
    backend = qt.FaultyBackend(qt.LocalSimulator(), seed=3, corrupt_rate=1.0)
    clean = qt.LocalSimulator().run([TASK])[0]
    for _ in range(6):
        bad = backend.run([TASK])[0]
        assert (
            not np.all(np.isfinite(bad.values))
            or bad.values.shape != clean.values.shape
            or bad.shots != clean.shots
        )


@pytest.mark.parametrize(
    "rates",
    [{"failure_rate": 1.5}, {"impossible_rate": -0.1}, {"latency_s": -1}, {"recalibrate_every": 0}],
)
def test_faulty_profile_is_validated(rates):
    with pytest.raises(qt.ConfigError):
        qt.FaultyBackend(qt.LocalSimulator(), seed=0, **rates)


def test_faulty_impossible_values_are_finite_and_rejected_by_validation():
    sampled = qt.Task(TASK.circuit, (qt.Z(0) - 0.5 * qt.X(0) + 2.0,), TASK.params, 30, 1)
    backend = qt.FaultyBackend(qt.LocalSimulator(), seed=2, impossible_rate=1.0)
    reasons = set()
    for task in (TASK, sampled) * 4:
        bad = backend.run([task])[0]
        assert np.all(np.isfinite(bad.values))
        reason = invalid_reason(Chunk(task, np.arange(2), task.shot_matrix()), bad)
        assert reason
        reasons.add(reason.split()[0])
    assert reasons == {"value", "variance"}


def test_faulty_without_impossible_rate_replays_its_old_fault_sequence():
    rates = {"failure_rate": 0.3, "partial_rate": 0.3, "corrupt_rate": 0.3}
    plain = outcomes(qt.FaultyBackend(qt.LocalSimulator(), seed=4, **rates))
    zero = outcomes(qt.FaultyBackend(qt.LocalSimulator(), seed=4, impossible_rate=0.0, **rates))
    assert plain == zero


def test_faulty_cancel_ends_a_cancellable_hang():
    backend = qt.FaultyBackend(
        qt.LocalSimulator(), seed=0, timeout_rate=1.0, hang_s=60.0, cancellable=True
    )
    tasks, raised = [TASK], []

    def call():
        try:
            backend.run(tasks)
        except TransientExecutionError as error:
            raised.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    while not backend._hangs:  # wait for the hang to begin
        thread.join(0.01)
    backend.cancel(tasks)
    thread.join(30)
    assert not thread.is_alive() and "cancelled while hanging" in str(raised[0])


def test_faulty_identity_is_the_inner_one_unless_it_drifts():
    sim = qt.LocalSimulator()
    assert qt.FaultyBackend(sim, seed=1, failure_rate=0.5).identity() == sim.identity()
    drifting = qt.FaultyBackend(sim, seed=1, drift_per_call=0.1).identity()
    assert drifting["inner"] == sim.identity() and drifting["seed"] == 1
    assert drifting["faults"]["drift_per_call"] == 0.1


def test_faulty_drift_stays_within_the_observable_range():
    backend = qt.FaultyBackend(qt.LocalSimulator(), seed=0, drift_per_call=0.5)
    task = qt.Task(qt.Circuit(1).x(0), (qt.Z(0), 2.0 - qt.Z(0)), np.zeros((1, 0)))  # −1 and 3
    values = [backend.run([task])[0].values[0].tolist() for _ in range(3)]
    assert values == [[-0.5, 3.0], [0.0, 3.0], [0.5, 3.0]]


def test_faults_around_a_mitigated_backend_keep_its_values_and_its_price():
    """Chaos around readout mitigation: valid mitigated values are not rejected as impossible
    (they may leave the spectrum), and the calibration's shots stay in the budget's view."""
    circuit = qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1)).cnot(0, 1)
    objective = qt.Objective.single(circuit, qt.Z(0) + 0.5 * qt.Z(1))
    model = qt.NoiseModel().readout(qt.noise.ReadoutError(0.05, 0.02))
    mitigated = qt.Mitigated(qt.LocalSimulator(noise=model), readout=True)
    chaos = qt.FaultyBackend(mitigated, seed=1, failure_rate=0.2)
    assert chaos.unbounded_values
    executor = qt.Executor(chaos, retry=qt.RetryPolicy(attempts=8, initial_s=0.0, jitter_s=0.0))
    result = qt.fit(
        objective,
        np.array([0.3, -0.2]),
        qt.optim.Adam(learning_rate=0.1),
        shots=200,
        seed=3,
        executor=executor,
        budget=qt.Budget(max_steps=3),
    )
    assert result.stopped_by == "max_steps"
    assert executor.counters.overhead_shots > 0  # the readout calibration was measured
    assert result.shots == sum(r.shots for r in result.history)
    tasks = objective.plan(
        np.array([0.3, -0.2]),
        method="param-shift",
        shots=qt.ShotPolicy.fixed(200),
        seed=1,
        backend=chaos,
    )[0]
    assert chaos.overhead(tasks) is not None  # what a budget prices before a step
