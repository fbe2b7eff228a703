"""Step hooks: what a session does around each step (train/step_hooks.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest

import qtrain as qt
from qtrain.backends.faulty import FaultyBackend
from qtrain.backends.local import LocalSimulator
from qtrain.errors import QtrainError
from qtrain.exec.executor import Executor
from qtrain.exec.retry import RetryPolicy
from qtrain.train.records import StepRecord
from qtrain.train.session import Session
from qtrain.train.step_hooks import HookResult, merged

CIRCUIT = qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1)).cnot(0, 1)
OBJECTIVE = qt.Objective.single(CIRCUIT, qt.Z(0) + 0.5 * qt.Z(1))
THETA0 = np.array([0.3, -0.2])


@dataclass
class SpendingHook:
    """Spends ``shots`` before every step, stops before step ``stop_at``; counts its calls."""

    shots: int = 0
    stop_at: int | None = None
    name: str = "spender"
    seen: list[int] = field(default_factory=list)

    def before_step(self, session: Session) -> HookResult:
        step = session.state.step
        if self.stop_at is not None and step >= self.stop_at:
            return HookResult(stop="hook_stop", shots=self.shots)
        count = session.state.hook_states.get(self.name, {}).get("count", 0)
        session.state.hook_states[self.name] = {"count": count + 1}
        return HookResult(shots=self.shots, fields={"readout_error": 0.01 * step})

    def after_step(self, session: Session, record: StepRecord) -> StepRecord:
        self.seen.append(record.step)
        return replace(record, validation={"loss": -1.0, "stderr": None, "shots": 0})

    def on_error(self, session: Session, error: QtrainError) -> bool:
        return False


def _fit(tmp_path: Path, hook: object, **kwargs: object) -> qt.FitResult:
    return qt.fit(
        OBJECTIVE,
        THETA0,
        qt.optim.Adam(learning_rate=0.1),
        shots=200,
        seed=5,
        budget=qt.Budget(max_steps=kwargs.pop("max_steps", 4)),
        run_dir=tmp_path / "run",
        hooks=[hook],
        **kwargs,
    )


def _records(run: Path) -> list[dict[str, object]]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_hook_shots_are_charged_to_the_step_and_the_ledger(tmp_path: Path) -> None:
    plain = qt.fit(
        OBJECTIVE,
        THETA0,
        qt.optim.Adam(learning_rate=0.1),
        shots=200,
        seed=5,
        budget=qt.Budget(max_steps=4),
    )
    hook = SpendingHook(shots=7, stop_at=3)
    result = _fit(tmp_path, hook)
    assert result.stopped_by == "hook_stop"
    assert [r.step for r in result.history] == [0, 1, 2] == hook.seen
    for mine, theirs in zip(result.history, plain.history, strict=False):
        assert mine.shots == theirs.shots + 7  # the hook's shots are the step's
    # The refused step's hook shots are spent too: charged to the ledger, not to a record.
    assert result.shots == sum(r.shots for r in result.history) + 7
    rows = _records(tmp_path / "run")
    assert [row["readout_error"] for row in rows] == [0.0, 0.01, 0.02]
    assert all(row["validation"] == {"loss": -1.0, "stderr": None, "shots": 0} for row in rows)


def test_records_carry_lineage_stderr_and_backend(tmp_path: Path) -> None:
    result = _fit(tmp_path, SpendingHook())
    rows = _records(tmp_path / "run")
    assert rows[0]["theta"] == pytest.approx(list(THETA0))
    for row, record in zip(rows[1:], result.history, strict=False):
        assert row["theta"] != list(THETA0)  # θ moved
        assert len(record.gradient_stderr) == 2
    assert np.all(np.array(rows[0]["gradient_stderr"]) > 0)
    assert {row["backend"] for row in rows} == {LocalSimulator().name}
    checkpoint = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert checkpoint["last_record"]["theta"] == []  # checkpoints stay small
    assert checkpoint["hook_states"] == {"spender": {"count": 4}}


def test_hook_state_survives_resume(tmp_path: Path) -> None:
    _fit(tmp_path, SpendingHook(), max_steps=2)
    resumed = _fit(tmp_path, SpendingHook(), max_steps=4, resume=True)
    assert resumed.history[-1].step == 3
    checkpoint = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert checkpoint["hook_states"] == {"spender": {"count": 4}}


@dataclass
class SwitchingHook:
    """Moves the session to a healthy backend when a step fails."""

    name: str = "switch"
    errors: list[str] = field(default_factory=list)

    def before_step(self, session: Session) -> HookResult:
        return HookResult()

    def after_step(self, session: Session, record: StepRecord) -> StepRecord:
        return record

    def on_error(self, session: Session, error: QtrainError) -> bool:
        self.errors.append(type(error).__name__)
        if session.executor.backend.name == "healthy":
            return False
        session.executor = Executor(_Named(LocalSimulator(), "healthy"))
        return True


class _Named:
    """A backend under another name (what a second device looks like to the session)."""

    def __init__(self, inner: LocalSimulator, name: str) -> None:
        self.inner, self.name = inner, name

    def __getattr__(self, item: str) -> object:
        return getattr(self.inner, item)

    def run(self, tasks: list[object]) -> object:
        return self.inner.run(tasks)


def test_on_error_lets_a_hook_mend_and_retry_the_step() -> None:
    dead = FaultyBackend(LocalSimulator(), seed=1, failure_rate=1.0)
    executor = Executor(dead, retry=RetryPolicy(attempts=2, initial_s=0.0, jitter_s=0.0))
    hook = SwitchingHook()
    result = qt.fit(
        OBJECTIVE,
        THETA0,
        qt.optim.Adam(learning_rate=0.1),
        shots=100,
        seed=3,
        budget=qt.Budget(max_steps=3),
        executor=executor,
        hooks=[hook],
    )
    assert result.stopped_by == "max_steps"
    assert len(hook.errors) == 1
    assert {r.backend for r in result.history} == {"healthy"}


def test_an_error_no_hook_mends_propagates() -> None:
    dead = FaultyBackend(LocalSimulator(), seed=1, failure_rate=1.0)
    executor = Executor(dead, retry=RetryPolicy(attempts=1, initial_s=0.0, jitter_s=0.0))
    with pytest.raises(QtrainError):
        qt.fit(
            OBJECTIVE,
            THETA0,
            qt.optim.Adam(learning_rate=0.1),
            shots=100,
            seed=3,
            budget=qt.Budget(max_steps=2),
            executor=executor,
            hooks=[SpendingHook()],
        )


def test_merged_takes_the_first_stop_and_sums_spending() -> None:
    one = HookResult(shots=3, cost=0.5, fields={"canary": {"drift": False}})
    two = HookResult(stop="drift", shots=4, cost=0.25, fields={"calibration_age_s": 9.0})
    three = HookResult(stop="later")
    total = merged([one, two, three])
    assert total == HookResult(
        "drift", 7, 0.75, {"canary": {"drift": False}, "calibration_age_s": 9.0}
    )
    assert merged([]) == HookResult()
