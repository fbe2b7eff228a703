import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import ThrottledError, TransientExecutionError

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
    "rates", [{"failure_rate": 1.5}, {"latency_s": -1}, {"recalibrate_every": 0}]
)
def test_faulty_profile_is_validated(rates):
    with pytest.raises(qt.ConfigError):
        qt.FaultyBackend(qt.LocalSimulator(), seed=0, **rates)
