"""One place charges what a step spends (train/step_spend.py): hooks' work, failed attempts,
interruptions and per-second money, all in the ledger and the budget, exactly once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import qtrain as qt
from qtrain.backends.local import LocalSimulator
from qtrain.backends.protocol import BackendLimits, Result, Task
from qtrain.errors import ConfigError, ExecutionError
from qtrain.exec.executor import Executor
from qtrain.exec.pricing import PricingTable, to_decimal
from qtrain.exec.retry import RetryPolicy
from qtrain.train import session as session_module
from qtrain.train.drift_watch import DriftWatch
from qtrain.train.fallback import BackendFallback
from qtrain.train.step_hooks import HookResult, merged
from qtrain.train.step_money import price_step
from qtrain.train.validation import Validation

CIRCUIT = qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1)).cnot(0, 1)
OBJECTIVE = qt.Objective.single(CIRCUIT, qt.Z(0) + 0.5 * qt.Z(1))
THETA0 = np.array([0.3, -0.2])
PER_SHOT = PricingTable.from_mapping({"currency": "USD", "default": {"per_shot": "0.001"}})


def _money(result: qt.FitResult) -> Decimal:
    return to_decimal(result.summary["cost"]["total"])


def _fit(**options: Any) -> qt.FitResult:
    return qt.fit(
        OBJECTIVE,
        THETA0,
        qt.optim.Adam(learning_rate=0.1),
        shots=200,
        seed=5,
        budget=options.pop("budget", qt.Budget(max_steps=3)),
        **options,
    )


class Timed:
    """A provider stand-in: results report ``secs`` execution seconds; it may bound its
    jobs' seconds (``max_wait_s``) but estimates none."""

    name = "timed"

    def __init__(self, secs: float, max_wait_s: float | None = None) -> None:
        self.inner, self.secs, self.max_wait_s = LocalSimulator(), secs, max_wait_s

    @property
    def limits(self) -> BackendLimits:
        return self.inner.limits

    def run(self, tasks: Sequence[Task]) -> list[Result | None]:
        return [
            replace(r, metadata={**r.metadata, "execution_s": self.secs})
            for r in self.inner.run(tasks)
        ]


PER_SECOND = PricingTable.from_mapping({"currency": "USD", "default": {"per_second": "1"}})


def test_per_second_money_limit_without_a_bound_is_refused_before_work() -> None:
    with pytest.raises(ConfigError, match=r"budget\.max_cost=1\.0 .*per_second=1 USD"):
        _fit(budget=qt.Budget(max_steps=5, max_cost=1.0), pricing=PER_SECOND, backend=Timed(3.0))
    _fit(pricing=PER_SECOND, backend=Timed(3.0))  # no money limit: measured seconds, charged


def test_provider_seconds_are_billed_and_later_steps_quoted_at_them() -> None:
    """Bounded at 0.5 s a job, the first step's job takes 3 s: the real bill is charged (an
    over-run past max_cost, recorded); the next step is quoted at 3 s and not started."""
    result = _fit(
        budget=qt.Budget(max_steps=5, max_cost=1.0),
        pricing=PER_SECOND,
        backend=Timed(3.0, max_wait_s=0.5),
    )
    assert result.stopped_by == "max_cost" and result.steps == 1
    assert [r.cost for r in result.history] == [3.0]
    assert _money(result) == Decimal("3.0")
    cost = result.summary["cost"]
    assert cost["over_quote_seconds"] == pytest.approx(2.5)
    assert cost["over_max_cost"] == 2.0


def test_steps_whose_seconds_were_seen_stay_under_max_cost() -> None:
    """A provider that estimates 0.5 s but takes 3 s: only its first step is a surprise."""

    class Estimates(Timed):
        def estimate_seconds(self, task: Task) -> float:
            return 0.5

    result = _fit(
        budget=qt.Budget(max_steps=50, max_cost=5.0), pricing=PER_SECOND, backend=Estimates(3.0)
    )
    assert result.stopped_by == "max_cost" and result.steps == 1
    assert _money(result) == Decimal("3.0") <= Decimal("5.0")
    assert "over_max_cost" not in result.summary["cost"]


def test_the_observed_seconds_survive_a_resume(tmp_path: Path) -> None:
    """Three 3 s steps leave 1.0 of max_cost 10: a resumed run quotes 3 s, as a straight
    run does, and starts nothing (quoted at the 0.5 s bound it would pass max_cost)."""

    def fit(run: Path, steps: int, resume: bool) -> qt.FitResult:
        budget = qt.Budget(max_steps=steps, max_cost=10.0)
        backend = Timed(3.0, max_wait_s=0.5)
        return _fit(budget=budget, pricing=PER_SECOND, backend=backend, run_dir=run, resume=resume)

    first = fit(tmp_path / "run", 3, False)
    assert first.steps == 3 and _money(first) == Decimal("9.0")
    resumed = fit(tmp_path / "run", 5, True)
    straight = fit(tmp_path / "straight", 5, False)
    assert resumed.stopped_by == straight.stopped_by == "max_cost"
    assert resumed.steps == straight.steps == 3
    assert _money(resumed) == _money(straight) == Decimal("9.0")


def test_a_quote_takes_the_larger_of_the_estimate_and_the_observed_rate() -> None:
    class Estimates:
        name, limits = "estimates", BackendLimits()

        def estimate_seconds(self, task: Task) -> float:
            return 1.5

    task = Task(CIRCUIT, (qt.Z(0),), np.zeros((1, 2)), shots=1000)
    slow = price_step(PER_SECOND, Estimates(), [task], 1000, rate=0.002)
    fast = price_step(PER_SECOND, Estimates(), [task], 1000, rate=0.001)
    assert slow is not None and slow.seconds == pytest.approx(2.0)  # 1000 shots at 2 ms
    assert fast is not None and fast.seconds == pytest.approx(1.5)  # the estimate


def test_canary_shots_are_charged_money() -> None:
    watch = DriftWatch(every_steps=1, shots=500, baseline=2)
    result = _fit(pricing=PER_SHOT, hooks=[watch])
    for record in result.history:
        assert to_decimal(record.cost) == Decimal(record.shots) * Decimal("0.001")
    assert _money(result) == Decimal(result.shots) * Decimal("0.001")


def test_validation_is_priced_and_max_cost_refuses_it() -> None:
    result = _fit(
        budget=qt.Budget(max_steps=4, max_cost=3.5),
        pricing=PER_SHOT,
        hooks=[Validation(OBJECTIVE, every=1, shots=1000)],
    )
    assert result.stopped_by == "max_cost"
    assert _money(result) == Decimal(result.shots) * Decimal("0.001") <= Decimal("3.5")
    assert result.history[0].validation is not None and result.history[0].cost == 2.0
    assert result.history[-1].validation is None  # the money left could not pay for it


class Breaks:
    """A simulator that raises a provider error from call ``at`` on (rows per task: ``rows``)."""

    def __init__(self, name: str, at: int, rows: int = 1 << 30) -> None:
        self.inner, self.name, self.at, self.calls, self.rows = LocalSimulator(), name, at, 0, rows

    @property
    def limits(self) -> BackendLimits:
        return BackendLimits(max_rows=self.rows)

    def identity(self) -> dict[str, object]:
        return {"backend": self.name}

    def run(self, tasks: Sequence[Task]) -> list[Result | None]:
        self.calls += 1
        if self.calls >= self.at:
            raise ExecutionError(f"{self.name} is offline")
        return self.inner.run(tasks)


def test_a_canary_before_a_fallback_switch_is_charged_once() -> None:
    """Step 1: canary (call 3) on the primary, the step's call 4 fails; retried on the
    secondary, where the canary is not due again."""
    primary, secondary = Breaks("prim", at=4), Breaks("sec", at=10**9)
    fast = RetryPolicy(attempts=1, initial_s=0.0, max_s=0.0, jitter_s=0.0)
    watch = DriftWatch(every_steps=1, shots=500, reference="exact")
    result = _fit(
        executor=Executor(primary, retry=fast),
        hooks=[BackendFallback([primary, secondary]), watch],
    )
    assert [r.canary is not None for r in result.history] == [True, False, True]
    [switch] = result.summary["fallback"]["switches"]
    assert switch["wasted_shots"] == 0  # the failed call ran nothing
    assert result.shots == sum(r.shots for r in result.history) + 500


def test_a_failed_attempt_on_the_left_backend_is_charged_its_money() -> None:
    """Step 1 on the primary: one valid row of five, then the backend fails for good."""

    class Partial(Breaks):
        def run(self, tasks: Sequence[Task]) -> list[Result | None]:
            out = super().run(tasks)
            return out if self.calls == 1 else [out[0]] + [None] * (len(out) - 1)

    primary, secondary = Partial("prim", at=3, rows=1), Breaks("sec", at=10**9)
    fast = RetryPolicy(attempts=2, initial_s=0.0, max_s=0.0, jitter_s=0.0)
    result = _fit(
        budget=qt.Budget(max_steps=2),
        method="param-shift",
        executor=Executor(primary, retry=fast),
        hooks=[BackendFallback([primary, secondary])],
        pricing=PER_SHOT,
    )
    [switch] = result.summary["fallback"]["switches"]
    assert switch["wasted_shots"] == 200  # the valid row nobody reads
    assert result.shots == sum(r.shots for r in result.history) + 200
    records = sum((to_decimal(r.cost) for r in result.history), Decimal(0))
    assert _money(result) == records + Decimal("0.2")


def test_a_step_refused_for_money_in_its_retries_leaves_the_rng(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    step, refused = session_module.Session.step, []

    def watched(self: session_module.Session) -> str | None:
        before = self.state.rng.bit_generator.state
        outcome = step(self)
        if outcome is not None:
            refused.append((outcome, self.state.rng.bit_generator.state == before))
        return outcome

    monkeypatch.setattr(session_module.Session, "step", watched)
    table = PricingTable.from_mapping(
        {"currency": "USD", "default": {"per_task": "0.30", "per_shot": "0.00035"}}
    )
    for seed in range(4):  # seeds whose last step is refused in its retries, and one not
        faulty = qt.FaultyBackend(LocalSimulator(), seed=seed, failure_rate=0.4, partial_rate=0.3)
        executor = Executor(faulty, retry=RetryPolicy(attempts=20, initial_s=0, jitter_s=0))
        _fit(budget=qt.Budget(max_steps=40, max_cost=4.0), pricing=table, executor=executor)
    assert refused == [("max_cost", True)] * 4


class Interrupts:
    """The ideal simulator, but call ``at`` raises ``KeyboardInterrupt`` (Ctrl-C)."""

    name = "local-statevector"

    def __init__(self, at: int) -> None:
        self.inner, self.at, self.calls = LocalSimulator(), at, 0

    @property
    def limits(self) -> BackendLimits:
        return self.inner.limits

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def run(self, tasks: Sequence[Task]) -> list[Result | None]:
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.inner.run(tasks)


def test_an_interrupt_after_the_canary_keeps_its_shots_and_resumes_exactly(
    tmp_path: Path,
) -> None:
    def fit(backend: Any, run: Path, resume: bool) -> qt.FitResult:
        watch = DriftWatch(every_steps=1, shots=500, reference="exact")
        return _fit(backend=backend, run_dir=run, resume=resume, hooks=[watch], pricing=PER_SHOT)

    run = tmp_path / "run"
    first = fit(Interrupts(at=4), run, False)  # step 1: its canary ran, its own call did not
    assert first.stopped_by == "interrupted" and first.steps == 1
    saved = json.loads((run / "checkpoint.json").read_text())
    assert saved["shots_total"] == first.history[0].shots + 500
    resumed = fit(LocalSimulator(), run, True)
    straight = fit(LocalSimulator(), tmp_path / "straight", False)
    assert resumed.shots == straight.shots
    assert _money(resumed) == _money(straight)
    np.testing.assert_array_equal(resumed.theta, straight.theta)


def test_merged_adds_money_exactly() -> None:
    total = merged([HookResult(cost=0.1), HookResult(cost=0.2)])
    assert total.cost == 0.3  # as floats: 0.30000000000000004
