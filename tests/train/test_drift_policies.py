"""What each drift policy does: warn, pause (and resume), recalibrate, fallback."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import qtrain as qt
from qtrain.backends.faulty import FaultyBackend
from qtrain.cli.outcome import EXIT_PAUSED, stop_exit
from qtrain.train.checkpoint import load_checkpoint
from qtrain.train.drift_watch import DriftWatch
from qtrain.train.fallback import BackendFallback

CIRCUIT = qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1)).cnot(0, 1)
OBJECTIVE = qt.Objective.single(CIRCUIT, qt.Z(0) + 0.5 * qt.Z(1))
THETA0 = np.array([0.3, -0.2])
ONSET = 6  # the canary run of step 6 is the first drifted call (2 calls per step)


def _drifting(seed: int = 1) -> FaultyBackend:
    return FaultyBackend(qt.LocalSimulator(), seed=seed, drift_step=0.1, drift_start_call=2 * ONSET)


def _fit(backend: Any, hooks: list[Any], steps: int = 16, **kwargs: Any) -> qt.FitResult:
    return qt.fit(
        OBJECTIVE,
        THETA0,
        qt.optim.Adam(learning_rate=0.05),
        shots=200,
        seed=5,
        budget=qt.Budget(max_steps=steps),
        backend=backend,
        hooks=hooks,
        **kwargs,
    )


def _alarms(result: qt.FitResult) -> list[tuple[int, str]]:
    return [(r.step, r.canary["action"]) for r in result.history if r.canary and r.canary["drift"]]


def test_warn_logs_a_sentence_and_training_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="qtrain"):
        result = _fit(_drifting(), [DriftWatch(every_steps=1, shots=1000)])
    assert result.stopped_by == "max_steps"
    alarms = _alarms(result)
    assert alarms and alarms[0][0] >= ONSET and {a for _, a in alarms} == {"warn"}
    warnings = [r for r in caplog.records if getattr(r, "event", "") == "drift.detected"]
    assert len(warnings) == len(alarms)
    text = warnings[0].getMessage()
    assert text.startswith(f"drift at step {alarms[0][0]}: the canary read ")
    assert "passed its threshold 5 (policy warn)" in text


def test_pause_stops_resumes_exactly_and_does_not_pause_again(tmp_path: Path) -> None:
    """The paused run resumed gives, step for step, the θ of a run that only warned."""
    warned = _fit(_drifting(), [DriftWatch(every_steps=1, shots=1000)])
    backend, run_dir = _drifting(), tmp_path / "run"
    paused = _fit(backend, [DriftWatch(every_steps=1, shots=1000, policy="pause")], run_dir=run_dir)
    assert paused.stopped_by == "drift"
    first_alarm = _alarms(warned)[0][0]
    assert paused.steps == first_alarm  # stopped before the step whose canary fired
    checkpoint = load_checkpoint(run_dir / "checkpoint.json")
    assert checkpoint.stopped_by == "drift" and checkpoint.hook_states["drift"]["paused"]
    np.testing.assert_array_equal(checkpoint.theta, warned.history[first_alarm].theta)
    resumed = _fit(
        backend,
        [DriftWatch(every_steps=1, shots=1000, policy="pause")],
        run_dir=run_dir,
        resume=True,
    )
    assert resumed.stopped_by == "max_steps"  # re-baselined: the persisting drift is normal
    after = resumed.history[first_alarm:]
    assert after[0].canary is None  # the canary of this step ran before the pause
    assert after[1].canary["residual"] == 0.0  # the re-baseline
    assert not any(r.canary["drift"] for r in after[1:])
    for a, b in zip(resumed.history, warned.history, strict=True):
        assert a.theta == b.theta and a.loss == b.loss


def test_pause_exits_the_cli_with_status_75_and_says_how_to_resume() -> None:
    status, event, text = stop_exit({"stopped_by": "drift", "steps": 7}, Path("runs/x"))
    assert (status, event) == (EXIT_PAUSED, "run.paused") and EXIT_PAUSED == 75
    assert "after step 7" in text and "qtrain resume runs/x" in text


def test_recalibrate_measures_readout_again_charged_and_rebaselines() -> None:
    noise = qt.NoiseModel().readout(qt.noise.ReadoutError(0.03, 0.05))
    drifting = FaultyBackend(
        qt.LocalSimulator(noise=noise), seed=2, drift_step=0.2, drift_start_call=40
    )
    backend = qt.Mitigated(drifting, readout=qt.ReadoutMitigation(shots=500))
    watch = DriftWatch(every_steps=1, shots=1000, policy="recalibrate", baseline=4)
    result = _fit(backend, [watch], steps=30)
    assert result.stopped_by == "max_steps"
    fired = [r for r in result.history if r.canary and r.canary["drift"]]
    assert [r.canary["action"] for r in fired] == ["recalibrate"]  # re-baselined: once
    calibration = 2 * 2 * 500  # |00⟩ and |11⟩, one group per wire, 500 shots
    assert fired[0].canary["shots"] == 1000 + 4 * 1000 + calibration
    later = result.history[fired[0].step + 1].canary
    assert later["reference"] != fired[0].canary["reference"]
    assert result.shots == sum(r.shots for r in result.history)


class Refreshable:
    """A backend with ``refresh_calibration()`` (as QiskitBackend), counting refreshes."""

    def __init__(self, inner: qt.Backend) -> None:
        self.inner, self.refreshed = inner, 0
        self.name, self.limits = "refreshable", inner.limits

    def run(self, tasks: Any) -> Any:
        return self.inner.run(tasks)

    def refresh_calibration(self) -> None:
        self.refreshed += 1


def test_recalibrate_refreshes_a_backend_without_mitigation() -> None:
    backend = Refreshable(_drifting())
    result = _fit(backend, [DriftWatch(every_steps=1, shots=1000, policy="recalibrate")])
    assert backend.refreshed == len(_alarms(result)) == 1


def test_fallback_switches_backend_and_rebaselines() -> None:
    primary, secondary = _drifting(), qt.LocalSimulator()
    watch = DriftWatch(every_steps=1, shots=1000, policy="fallback")
    result = _fit(primary, [BackendFallback([primary, secondary]), watch])
    assert result.stopped_by == "max_steps"
    assert _alarms(result)[0][1] == "fallback"
    switched = _alarms(result)[0][0]
    assert {r.backend for r in result.history[switched:]} == {secondary.name}
    assert not any(r.canary["drift"] for r in result.history[switched + 1 :])


def test_fallback_without_a_fallback_hook_is_refused() -> None:
    with pytest.raises(qt.ConfigError, match="fallback"):
        _fit(qt.LocalSimulator(), [DriftWatch(policy="fallback")])
