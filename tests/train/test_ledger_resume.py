"""The ledger equals what the device spent across failures, Ctrl-C and budget refusals,
and a resumed run's ledger equals an uninterrupted run's (issue #19)."""

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
from qtrain.errors import IncompleteResultError
from qtrain.exec.executor import Executor
from qtrain.exec.pricing import PricingTable, to_decimal
from qtrain.exec.retry import RetryPolicy
from qtrain.exec.store import ResultStore

CIRCUIT = qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1)).cnot(0, 1)
OBJECTIVE = qt.Objective.single(CIRCUIT, qt.Z(0) + 0.5 * qt.Z(1))
FAST = RetryPolicy(attempts=3, initial_s=0.0, max_s=0.0, jitter_s=0.0)
PER_SHOT = PricingTable.from_mapping(
    {"currency": "USD", "default": {"per_task": "0.3", "per_shot": "0.001"}}
)


class Scripted:
    """The ideal simulator with faults by call number: ``"nan"`` (every result invalid),
    ``"part"`` (all but the first result invalid), ``"kbd"`` (Ctrl-C). ``spent``: the shots
    it really ran."""

    name = "local-statevector"

    def __init__(self, script: dict[int, str] | None = None, rows: int = 1 << 30) -> None:
        self.inner, self.script, self.rows = LocalSimulator(), script or {}, rows
        self.calls = self.spent = 0

    @property
    def limits(self) -> BackendLimits:
        return BackendLimits(max_rows=self.rows)

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def run(self, tasks: Sequence[Task]) -> list[Result | None]:
        self.calls += 1
        fault = self.script.get(self.calls)
        if fault == "kbd":
            raise KeyboardInterrupt
        out = list(self.inner.run(tasks))
        self.spent += sum(r.shots for r in out)
        keep = {"nan": 0, "part": 1}.get(fault or "", len(out))
        return out[:keep] + [replace(r, values=np.full_like(r.values, np.nan)) for r in out[keep:]]


def _fit(backend: Scripted, run: Path | None, resume: bool = False, **options: Any) -> qt.FitResult:
    if "executor" not in options:
        options["backend"] = backend
    return qt.fit(
        OBJECTIVE,
        np.array([0.3, -0.2]),
        qt.optim.Adam(learning_rate=0.1),
        shots=200,
        seed=5,
        budget=options.pop("budget", qt.Budget(max_steps=3)),
        run_dir=run,
        resume=resume,
        **options,
    )


def _money(result: qt.FitResult) -> Decimal:
    return to_decimal(result.summary["cost"]["total"])


def test_a_step_that_fails_checkpoints_what_it_spent(tmp_path: Path) -> None:
    """Step 1's three attempts all come back invalid: the run raises, its ledger is saved."""

    def fit(backend: Scripted, resume: bool) -> qt.FitResult:
        store = ResultStore(tmp_path / "rows.sqlite")
        executor = Executor(backend, store=store, retry=FAST)
        return _fit(backend, tmp_path / "run", resume, executor=executor, pricing=PER_SHOT)

    first = Scripted({2: "nan", 3: "nan", 4: "nan"})
    with pytest.raises(IncompleteResultError):
        fit(first, False)
    saved = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert saved["step"] == 1 and saved["shots_total"] == first.spent == 4000
    assert to_decimal(saved["cost_total"]) == Decimal("4.0") + 4 * Decimal("0.3")
    second = Scripted()
    resumed = fit(second, True)
    assert resumed.steps == 3 and resumed.shots == first.spent + second.spent
    assert _money(resumed) == Decimal(resumed.shots) / 1000 + 6 * Decimal("0.3")


def test_ctrl_c_keeps_what_the_running_call_wasted(tmp_path: Path) -> None:
    """Step 1's first call comes back invalid, its retry is interrupted: the rejected
    shots are charged; the resumed ledger equals an uninterrupted run's and the device's."""
    straight_backend = Scripted({2: "nan"})
    straight = _fit(straight_backend, tmp_path / "straight", pricing=PER_SHOT)
    assert straight.shots == straight_backend.spent == 4000
    first = Scripted({2: "nan", 3: "kbd"})
    stopped = _fit(first, tmp_path / "run", pricing=PER_SHOT)
    assert stopped.stopped_by == "interrupted" and stopped.shots == first.spent == 2000
    second = Scripted()
    resumed = _fit(second, tmp_path / "run", True, pricing=PER_SHOT)
    assert resumed.shots == straight.shots == first.spent + second.spent
    # the interrupted retry was sent (a provider bills it) and the resume sends it again
    assert _money(resumed) == _money(straight) + Decimal("0.3")
    np.testing.assert_array_equal(resumed.theta, straight.theta)


def test_ctrl_c_does_not_charge_valid_rows_the_resume_reads(tmp_path: Path) -> None:
    """One task per row: the interrupted call's first row is valid and stored."""
    first = Scripted({2: "part", 3: "kbd"}, rows=1)
    _fit(first, tmp_path / "run")
    resumed = _fit(Scripted(rows=1), tmp_path / "run", True)
    straight = _fit(Scripted({2: "part"}, rows=1), tmp_path / "straight")
    assert resumed.shots == straight.shots == 3800


@pytest.mark.parametrize("larger", [5000, None])
def test_a_step_refused_mid_retry_is_charged_once_after_a_resume(
    tmp_path: Path, larger: int | None
) -> None:
    """Step 1: one valid row of five, the retry of the other four past ``max_shots``."""
    straight = Scripted({2: "part"}, rows=1)
    reference = _fit(straight, tmp_path / "straight", budget=qt.Budget(max_steps=3))
    assert reference.shots == straight.spent == 3800
    first = Scripted({2: "part"}, rows=1)
    refused = _fit(first, tmp_path / "run", budget=qt.Budget(max_steps=3, max_shots=2000))
    assert refused.stopped_by == "max_shots"
    assert refused.shots == first.spent - 200  # the valid row waits in the store
    second = Scripted(rows=1)
    budget = qt.Budget(max_steps=3, max_shots=larger)
    resumed = _fit(second, tmp_path / "run", True, budget=budget)
    assert resumed.shots == reference.shots == first.spent + second.spent


def test_without_a_store_a_refused_step_charges_its_valid_rows() -> None:
    backend = Scripted({2: "part"}, rows=1)
    refused = _fit(backend, None, budget=qt.Budget(max_steps=3, max_shots=2000))
    assert refused.stopped_by == "max_shots" and refused.shots == backend.spent == 2000
