"""Timed calls: an abandoned call settles exactly once, after it returns."""

import threading

import pytest

import qtrain as qt
from qtrain.exec.timeouts import Abandoned, TimedCall


def test_timeouts_call_in_time_returns_and_never_settles():
    settled = []
    call = TimedCall(lambda: ["result"], settled.append)
    assert call.wait(30.0, pytest.fail) and call.results == ["result"]
    call.join(30.0)
    assert settled == [] and call.error is None


def test_timeouts_abandoned_call_settles_once_when_it_returns():
    release, settled, registry = threading.Event(), [], Abandoned(limit=1)

    def blocked():
        release.wait(30.0)
        return ["late"]

    call = TimedCall(blocked, lambda c: (settled.append(c.results), registry.discard(c)))
    assert not call.wait(0.0, registry.add) and call.abandoned
    assert len(registry) == 1 and settled == []
    with pytest.raises(qt.ExecutionError, match="1 timed-out calls to sim are still running"):
        registry.check_room("sim")
    release.set()
    assert registry.wait(30.0) == 0 and settled == [["late"]]
    registry.check_room("sim")  # room again
    with pytest.raises(qt.ConfigError, match="max_abandoned"):
        Abandoned(limit=0)
