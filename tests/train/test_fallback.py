"""Backend fallback (train/fallback.py): a permanent failure moves the run to the next backend."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import qtrain as qt
from qtrain.backends.faulty import FaultProfile, FaultyBackend
from qtrain.backends.local import LocalSimulator
from qtrain.backends.protocol import BackendLimits, Result, Task
from qtrain.errors import ConfigError, DeviceCapabilityError, ExecutionError, IncompleteResultError
from qtrain.exec.executor import Executor
from qtrain.exec.retry import RetryPolicy
from qtrain.train.fallback import BackendFallback
from qtrain.train.records import StepRecord
from qtrain.train.session import Session
from qtrain.train.step_hooks import HookResult

CIRCUIT = qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1)).cnot(0, 1)
OBJECTIVE = qt.Objective.single(CIRCUIT, qt.Z(0) + 0.5 * qt.Z(1))
THETA0 = np.array([0.3, -0.2])
FAST = RetryPolicy(attempts=2, initial_s=0.0, max_s=0.0, jitter_s=0.0)


class Breaks:
    """A simulator that raises a provider error (not transient) from call ``after`` on."""

    def __init__(self, name: str, after: int = 0, error: type[Exception] = ExecutionError) -> None:
        self.inner = LocalSimulator()
        self.name, self.after, self.error, self.calls = name, after, error, 0

    @property
    def limits(self) -> BackendLimits:
        return self.inner.limits

    def identity(self) -> dict[str, object]:
        return {"backend": self.name}

    def run(self, tasks: Sequence[Task]) -> list[Result | None]:
        self.calls += 1
        if self.calls > self.after:
            raise self.error(f"{self.name} is offline")
        return self.inner.run(tasks)


def _fit(
    run_dir: Path | None,
    backends: list[object],
    *,
    steps: int = 4,
    resume: bool = False,
    objective: qt.Objective = OBJECTIVE,
) -> qt.FitResult:
    return qt.fit(
        objective,
        THETA0,
        qt.optim.Adam(learning_rate=0.1),
        shots=200,
        seed=5,
        budget=qt.Budget(max_steps=steps),
        executor=Executor(backends[0], retry=FAST),  # type: ignore[arg-type]
        run_dir=run_dir,
        resume=resume,
        hooks=[BackendFallback(backends)],  # type: ignore[arg-type]
    )


def _records(run: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_primary_that_always_fails_gives_the_secondarys_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    primary = FaultyBackend(LocalSimulator(), seed=1, profile=FaultProfile(failure_rate=1.0))
    secondary = LocalSimulator()
    plain = qt.fit(
        OBJECTIVE, THETA0, qt.optim.Adam(learning_rate=0.1), shots=200, seed=5,
        budget=qt.Budget(max_steps=4), backend=LocalSimulator(),
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="qtrain"):
        result = _fit(tmp_path / "run", [primary, secondary])
    # the failed attempt never happened: same seeds, same θ and shots as the secondary alone
    np.testing.assert_array_equal(result.theta, plain.theta)
    assert result.shots == plain.shots and result.steps == 4
    assert [r.backend for r in result.history] == [secondary.name] * 4
    assert [r["backend"] for r in _records(tmp_path / "run")] == [secondary.name] * 4
    switches = result.summary["fallback"]["switches"]
    assert [(s["step"], s["from"], s["to"]) for s in switches] == [
        (0, primary.name, secondary.name)
    ]
    assert "IncompleteResultError" in switches[0]["reason"]
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert saved["fallback"]["backend"] == secondary.name and saved["fallback"]["index"] == 1
    [line] = [r for r in caplog.records if getattr(r, "event", "") == "fallback.switch"]
    assert line.levelno == logging.WARNING
    assert primary.name in line.getMessage() and secondary.name in line.getMessage()
    assert "IncompleteResultError" in line.getMessage()


def test_a_switch_mid_run_shows_in_the_records_and_resume_stays_on_the_secondary(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = tmp_path / "run"
    first = _fit(run, [Breaks("device-a", after=2), Breaks("device-b", after=99)], steps=3)
    assert [r.backend for r in first.history] == ["device-a", "device-a", "device-b"]
    assert first.summary["fallback"]["switches"][0]["step"] == 2
    # resumed with a primary that works now: the run goes on where it had switched to
    primary, secondary = Breaks("device-a", after=99), Breaks("device-b", after=99)
    with caplog.at_level(logging.INFO, logger="qtrain"):
        resumed = _fit(run, [primary, secondary], steps=5, resume=True)
    assert [r.backend for r in resumed.history] == ["device-a"] * 2 + ["device-b"] * 3
    assert primary.calls == 0 and secondary.calls == 2
    assert any(getattr(r, "event", "") == "fallback.resumed" for r in caplog.records)
    assert [r["backend"] for r in _records(run)] == [r.backend for r in resumed.history]
    assert len(resumed.summary["fallback"]["switches"]) == 1


def test_with_no_backend_left_the_last_error_propagates_unchanged() -> None:
    with pytest.raises(ExecutionError) as caught:
        _fit(None, [Breaks("device-a"), Breaks("device-b")])
    assert type(caught.value) is ExecutionError and str(caught.value) == "device-b is offline"
    assert "tried device-a → device-b; no backend left" in caught.value.__notes__[0]
    with pytest.raises(IncompleteResultError, match="after 2 attempt"):
        _fit(
            None, [FaultyBackend(LocalSimulator(), seed=0, profile=FaultProfile(failure_rate=1.0))]
        )


def test_bad_input_is_not_the_backends_fault() -> None:
    secondary = Breaks("device-b", after=99)
    with pytest.raises(DeviceCapabilityError, match="device-a is offline"):
        _fit(None, [Breaks("device-a", error=DeviceCapabilityError), secondary])
    assert secondary.calls == 0


def test_wasted_shots_of_the_failed_backend_are_charged(tmp_path: Path) -> None:
    primary = FaultyBackend(LocalSimulator(), seed=2, profile=FaultProfile(corrupt_rate=1.0))
    plain = _fit(None, [LocalSimulator()])
    result = _fit(tmp_path / "run", [primary, LocalSimulator()])
    [switch] = result.summary["fallback"]["switches"]
    assert switch["wasted_shots"] > 0
    assert switch["wasted_shots"] == result.summary["execution"]["wasted_shots"]
    assert result.shots == plain.shots + switch["wasted_shots"]
    np.testing.assert_array_equal(result.theta, plain.theta)


class DriftSwitch:
    """A stand-in drift policy: asks the fallback hook to switch before step ``at``."""

    name = "drift"

    def __init__(self, at: int) -> None:
        self.at = at

    def before_step(self, session: Session) -> HookResult:
        if session.state.step == self.at:
            [fallback] = [h for h in session.hooks if h.name == "fallback"]
            assert isinstance(fallback, BackendFallback)
            assert fallback.switch(session, "drift: canary residual 5.1σ")
            assert not fallback.switch(session, "again")  # none left
        return HookResult()

    def after_step(self, session: Session, record: StepRecord) -> StepRecord:
        return record

    def on_error(self, session: Session, error: qt.QtrainError) -> bool:
        return False


def test_switch_is_public_for_a_drift_policy() -> None:
    a, b = Breaks("device-a", after=99), Breaks("device-b", after=99)
    result = qt.fit(
        OBJECTIVE, THETA0, qt.optim.Adam(learning_rate=0.1), shots=100, seed=1,
        budget=qt.Budget(max_steps=3), backend=a, hooks=[BackendFallback([a, b]), DriftSwitch(1)],
    )  # fmt: skip
    assert [r.backend for r in result.history] == ["device-a", "device-b", "device-b"]
    [switch] = result.summary["fallback"]["switches"]
    assert switch["reason"] == "drift: canary residual 5.1σ" and switch["wasted_shots"] == 0


def test_bad_lists_are_refused() -> None:
    a = LocalSimulator()
    with pytest.raises(ConfigError, match="at least one backend"):
        BackendFallback([])
    with pytest.raises(ConfigError, match="listed twice"):
        BackendFallback([a, a])
    with pytest.raises(ConfigError, match="is not a backend"):
        BackendFallback([a, "ibm_kyiv"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match=r"first backend \(device-a\) must be the run's own"):
        qt.fit(
            OBJECTIVE, THETA0, qt.optim.Adam(), shots=100, seed=1, budget=qt.Budget(max_steps=1),
            backend=LocalSimulator(), hooks=[BackendFallback([Breaks("device-a"), a])],
        )  # fmt: skip


def test_valid_rows_of_the_failed_step_are_charged_too(tmp_path: Path) -> None:
    """Rows the failed backend finished before the step failed are spent: nothing reads them."""
    failing = {"first": None}

    def fails_one(task: object) -> bool:
        failing["first"] = failing["first"] or id(task)
        return id(task) == failing["first"]  # one task of the first call fails for good

    two = qt.Objective((CIRCUIT, CIRCUIT.rx(0, 0.4)), (qt.Z(0), qt.Z(1)), "sum")  # two tasks
    primary = FaultyBackend(LocalSimulator(), seed=2, permanent=fails_one)
    plain = _fit(None, [LocalSimulator()], objective=two)
    result = _fit(tmp_path / "run", [primary, LocalSimulator()], objective=two)
    [switch] = result.summary["fallback"]["switches"]
    assert switch["wasted_shots"] > 0  # the valid rows of the other tasks
    assert result.summary["execution"]["wasted_shots"] == 0  # no result was invalid
    assert result.shots == plain.shots + switch["wasted_shots"]
    np.testing.assert_array_equal(result.theta, plain.theta)
