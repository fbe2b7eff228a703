"""DriftWatch on a FaultyBackend: detection after a drift onset, false alarms, the ledger."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import qtrain as qt
from qtrain.backends.faulty import FaultyBackend
from qtrain.exec.executor import Executor
from qtrain.train.canary import Canary, is_ideal, reading
from qtrain.train.drift_watch import DriftWatch
from qtrain.train.step_money import Extra

CIRCUIT = qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1)).cnot(0, 1)
OBJECTIVE = qt.Objective.single(CIRCUIT, qt.Z(0) + 0.5 * qt.Z(1))
THETA0 = np.array([0.3, -0.2])
CALLS_PER_STEP = 2  # a canary call, then the step's one call (one circuit, one task)


def _fit(backend: Any, watch: DriftWatch, steps: int, **kwargs: Any) -> qt.FitResult:
    return qt.fit(
        OBJECTIVE,
        THETA0,
        qt.optim.Adam(learning_rate=0.05),
        shots=200,
        seed=kwargs.pop("seed", 5),
        budget=kwargs.pop("budget", qt.Budget(max_steps=steps)),
        backend=backend,
        hooks=[watch, *kwargs.pop("hooks", [])],
        **kwargs,
    )


def _fake_session(backend: Any, seed: int) -> Any:
    """What DriftWatch reads of a session, around a real executor (no training steps)."""
    state = SimpleNamespace(hook_states={}, step=0, shots_total=0)
    settings = SimpleNamespace(objective=OBJECTIVE, seed=seed, budget=qt.Budget(max_steps=10**6))
    executor = Executor(backend)

    def run_extra(tasks: list[qt.Task], *, purpose: str) -> Extra:
        shots = sum(int(t.shot_matrix().sum()) for t in tasks)
        return Extra(executor.run(tasks), shots, None)

    return SimpleNamespace(
        state=state,
        settings=settings,
        executor=executor,
        hooks=[],
        elapsed=lambda: 0.0,
        run_extra=run_extra,
    )


def test_default_canary_is_mid_spectrum_and_seeded() -> None:
    canary = Canary.from_objective(OBJECTIVE, seed=3)
    assert canary.circuit is CIRCUIT
    assert abs(canary.exact_value()) < 0.3  # the spectrum is [−1.5, 1.5]
    assert np.array_equal(canary.params, Canary.from_objective(OBJECTIVE, seed=3).params)
    assert not np.array_equal(canary.params, Canary.from_objective(OBJECTIVE, seed=4).params)


def test_canary_refuses_bad_input() -> None:
    with pytest.raises(qt.ConfigError, match="2 finite numbers"):
        Canary(CIRCUIT, qt.Z(0), [0.1])
    with pytest.raises(qt.ConfigError, match="reference"):
        Canary(CIRCUIT, qt.Z(0), [0.1, 0.2], reference=math.nan)
    with pytest.raises(qt.ObservableError):
        Canary(CIRCUIT, qt.Z(5), [0.1, 0.2])
    with pytest.raises(qt.ConfigError, match="sampled"):
        reading(qt.Result(np.zeros((1, 1)), None, 0), 100)
    for bad in ({"every_steps": None}, {"shots": 1}, {"policy": "panic"}, {"baseline": 0}):
        with pytest.raises(qt.ConfigError):
            DriftWatch(**bad)  # type: ignore[arg-type]


def test_reference_is_exact_only_on_an_ideal_simulator() -> None:
    assert is_ideal(FaultyBackend(qt.LocalSimulator(), seed=0))
    noisy = qt.LocalSimulator(noise=qt.NoiseModel().readout(qt.noise.ReadoutError(0.02, 0.03)))
    assert not is_ideal(noisy)
    assert not is_ideal(qt.Mitigated(qt.LocalSimulator(), readout=True))


@pytest.mark.parametrize("seed", range(6))
def test_drift_from_step_s_is_decided_within_the_documented_runs(seed: int) -> None:
    """A step bias of ~2.2 sd from the canary run of step 12 on: decided within the
    documented 99% delay (canary runs counted from the onset's own)."""
    onset, bias = 12, 0.05
    backend = FaultyBackend(
        qt.LocalSimulator(), seed=seed, drift_step=bias, drift_start_call=CALLS_PER_STEP * onset
    )
    watch = DriftWatch(every_steps=1, shots=1000, policy="pause")
    result = _fit(backend, watch, 60, seed=seed)
    assert result.stopped_by == "drift"
    canaries = [r.canary for r in result.history]
    assert all(c is not None and not c["drift"] for c in canaries)  # no alarm before it
    fired_at = result.steps  # the canary of the step that did not run
    sd = max(c["stderr"] for c in canaries if c is not None)
    documented = watch.design.detection_delay(bias / sd, q=0.99)
    assert onset <= fired_at <= onset + documented - 1


@pytest.mark.slow
def test_measured_false_alarm_rate_without_drift_is_at_most_the_documented() -> None:
    """150 seeded backends, 40 canary runs each through the executor, no drift."""
    runs, length = 150, 40
    alarms = 0
    for seed in range(runs):
        session = _fake_session(FaultyBackend(qt.LocalSimulator(), seed=seed), seed)
        watch = DriftWatch(every_steps=1, shots=500, threshold=3.0)
        for step in range(length):
            session.state.step = step
            if watch.before_step(session).fields["canary"]["drift"]:
                alarms += 1
                break
    documented = watch.design.false_alarm_probability(length)
    measured = alarms / runs
    assert measured <= documented + 3 * math.sqrt(documented * (1 - documented) / runs)
    assert alarms > 0  # h = 3 over 40 runs: the documented rate (~0.3) is not vacuous


def test_canary_shots_are_in_the_ledger_and_the_budget_holds(tmp_path: Path) -> None:
    budget = qt.Budget(max_steps=50, max_shots=11_000)
    watch = DriftWatch(every_steps=2, shots=1000)
    result = _fit(qt.LocalSimulator(), watch, 50, budget=budget, run_dir=tmp_path / "run")
    assert result.stopped_by == "max_shots"
    assert result.shots <= budget.max_shots
    assert result.shots == sum(r.shots for r in result.history)
    ran = [r for r in result.history if r.canary is not None]
    assert [r.step for r in ran] == list(range(0, result.steps, 2))
    step_cost = {r.shots for r in result.history if r.canary is None}
    assert step_cost == {1000}  # 5 rows × 200 shots × 1 group
    for record in ran:
        assert record.canary["shots"] == 1000
        assert record.shots == 1000 + 1000  # the canary's and the step's
    assert set(ran[0].canary) == {
        "value", "stderr", "reference", "residual", "statistic", "threshold", "drift",
        "action", "shots",
    }  # fmt: skip


def test_a_canary_the_budget_cannot_pay_for_is_not_run() -> None:
    budget = qt.Budget(max_steps=5, max_shots=5000)
    result = _fit(qt.LocalSimulator(), DriftWatch(every_steps=1, shots=6000), 5, budget=budget)
    assert result.steps == 5 and all(r.canary is None for r in result.history)
    assert result.shots == 5 * 1000


def test_faulty_drift_starts_at_the_chosen_call_and_changes_identity() -> None:
    inner = qt.LocalSimulator()
    backend = FaultyBackend(inner, seed=0, drift_step=0.3, drift_per_call=0.01, drift_start_call=2)
    task = qt.Task(CIRCUIT, (qt.Z(0),), np.array([[1.4, 0.1]]))  # ⟨Z0⟩ ≈ 0.17: no clipping
    exact = float(inner.run([task])[0].values[0, 0])
    values = [float(backend.run([task])[0].values[0, 0]) for _ in range(4)]
    assert values[:2] == [exact, exact]
    assert values[2:] == pytest.approx([exact + 0.31, exact + 0.32])
    assert backend.identity()["faults"]["drift_start_call"] == 2
    assert FaultyBackend(inner, seed=0, drift_start_call=2).identity() == inner.identity()
    with pytest.raises(qt.ConfigError, match="drift_start_call"):
        FaultyBackend(inner, seed=0, drift_start_call=-1)
