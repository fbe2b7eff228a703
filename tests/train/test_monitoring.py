"""The gradient monitor inside qt.fit: every policy on a run built to cross its threshold."""

import json
import warnings

import numpy as np
import pytest

import qtrain as qt
from qtrain.diagnostics.monitor import GradientMonitor, PlateauWarning
from qtrain.train.monitoring import MonitorHook, scaled_policy
from qtrain.train.tracking import read_metrics

START = np.array([np.pi + 0.8, np.pi - 0.6])


def converging():
    """Two independent qubits, H = Z0 + Z1, gradient descent towards θ = (π, π): the SNR starts
    near 12 and sinks to the noise level (≈ 0.9) after about eight steps, crossing 1.5."""
    circuit = qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1))
    return qt.Objective.single(circuit, qt.Z(0) + qt.Z(1)), START.copy()


def run(monitor, *, steps=30, shots=200, **kwargs):
    objective, theta0 = converging()
    return qt.fit(
        objective,
        theta0,
        qt.optim.GradientDescent(learning_rate=0.4),
        shots=shots,
        seed=3,
        budget=kwargs.pop("budget", qt.Budget(max_steps=steps)),
        monitor=monitor,
        **kwargs,
    )


def actions(result):
    return [r.monitor["action"] for r in result.history]


def test_monitor_stays_quiet_on_a_healthy_vqe():
    circuit = qt.ansatz.hardware_efficient(3, 2)
    H = qt.Z(0) @ qt.Z(1) + 0.5 * qt.X(2) - 0.3 * qt.Z(1)
    objective = qt.Objective.single(circuit, H)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would fail the run
        result = qt.fit(
            objective,
            np.full(circuit.n_params, 0.3),
            qt.optim.Adam(0.05),
            shots=2000,
            seed=1,
            budget=qt.Budget(max_steps=12),
            monitor=GradientMonitor(policy="stop", window=3),
        )
    assert result.stopped_by == "max_steps"
    assert actions(result) == [None] * 12
    assert min(r.monitor["snr"] for r in result.history) > 3


def test_warn_policy_warns_records_and_goes_on():
    with pytest.warns(PlateauWarning, match="SNR over the last 3 steps"):
        result = run(GradientMonitor(policy="warn", window=3, threshold=1.5))
    assert result.stopped_by == "max_steps" and actions(result).count("warn") >= 1
    first = actions(result).index("warn")
    assert first >= 5 and result.history[first].monitor["snr_window"] < 1.5
    assert actions(result)[:first] == [None] * first
    assert result.history[0].monitor["snr"] > 8  # healthy at the start


def test_stop_policy_ends_the_run_with_its_own_reason():
    result = run(GradientMonitor(policy="stop", window=3, threshold=1.5))
    assert result.stopped_by == "plateau" and 5 < result.steps < 30
    assert actions(result)[-1] == "stop" and actions(result)[:-1] == [None] * (result.steps - 1)


def test_raise_shots_policy_raises_the_next_steps_shots(tmp_path):
    monitor = GradientMonitor(policy="raise_shots", window=3, threshold=1.5, max_factor=4.0)
    with pytest.warns(PlateauWarning):  # at the cap it has nothing left to do but warn
        result = run(monitor, run_dir=tmp_path / "run")
    raised = actions(result).index("raise_shots")
    base = result.history[0].shots
    assert result.history[raised].shots == base and result.history[raised + 1].shots == 2 * base
    assert max(r.shots for r in result.history) == 4 * base
    logged = [r.monitor for r in read_metrics(tmp_path / "run" / "metrics.jsonl")]
    assert logged == [r.monitor for r in result.history]  # decisions are in metrics.jsonl


def test_raise_shots_never_breaks_the_shot_budget():
    monitor = GradientMonitor(policy="raise_shots", window=3, threshold=1.5, max_factor=8.0)
    with pytest.warns(PlateauWarning):
        free = run(monitor)
    base = free.history[0].shots
    raised = actions(free).index("raise_shots")
    # Room for the steps up to the first raise and one and a half raised steps after it.
    budget = qt.Budget(max_steps=30, max_shots=base * (raised + 1) + 3 * base)
    capped = run(monitor, budget=budget)
    assert capped.shots <= budget.max_shots and capped.stopped_by == "max_shots"
    used = [r.monitor["shot_factor_used"] for r in capped.history]
    wanted = [r.monitor["shot_factor"] for r in capped.history]
    assert any(u < w for u, w in zip(used[1:], wanted, strict=False))  # capped to what fits


def test_layerwise_policy_freezes_then_unfreezes_layers():
    monitor = GradientMonitor(policy="layerwise", window=3, threshold=1.5, layers=[[0], [1]])
    with pytest.warns(PlateauWarning):  # all layers active, converged again: warn
        result = run(monitor, steps=40)
    unfrozen = actions(result).index("unfreeze")
    records = [json.loads(json.dumps(r.monitor)) for r in result.history]
    assert records[0]["active_layers"] == 1 and records[-1]["active_layers"] == 2
    assert abs(result.theta[1] - np.pi) < 0.2  # layer 2 trained after unfreezing
    frozen = run(monitor, steps=unfrozen + 1)  # the same run cut where layer 2 unfreezes
    assert frozen.theta[1] == START[1]  # untouched, bit for bit, while frozen
    assert abs(frozen.theta[0] - np.pi) < 0.2


@pytest.mark.parametrize("policy", ["raise_shots", "layerwise"])
def test_resume_with_a_monitor_is_bit_identical(tmp_path, policy):
    monitor = GradientMonitor(policy=policy, window=3, threshold=1.5, layers=[[0], [1]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlateauWarning)
        whole = run(monitor, steps=20, run_dir=tmp_path / "whole")
        run(monitor, steps=9, run_dir=tmp_path / "cut")
        resumed = run(monitor, steps=20, run_dir=tmp_path / "cut", resume=True)
    assert "raise_shots" in actions(whole) or "unfreeze" in actions(whole)
    assert np.array_equal(resumed.theta, whole.theta)
    assert [r.monitor for r in resumed.history] == [r.monitor for r in whole.history]
    assert resumed.shots == whole.shots
    with pytest.raises(qt.CheckpointMismatchError):
        run(GradientMonitor(policy="stop"), steps=20, run_dir=tmp_path / "cut", resume=True)


def test_monitor_inputs_are_checked():
    objective, theta0 = converging()
    with pytest.raises(qt.ConfigError, match="'raise_shots' needs sampled gradients"):
        qt.fit(objective, theta0, qt.optim.Adam(), monitor=GradientMonitor(policy="raise_shots"))
    with pytest.raises(qt.ConfigError, match="must be a GradientMonitor"):
        qt.fit(objective, theta0, qt.optim.Adam(), monitor="stop")
    with pytest.raises(qt.ConfigError, match="layers=3 does not divide the 2 parameters"):
        run(GradientMonitor(policy="layerwise", layers=3))


def test_scaled_policy_and_exact_runs():
    assert scaled_policy(qt.ShotPolicy.fixed(100), 2.5).per_row == 250
    assert scaled_policy(qt.ShotPolicy.total(1000), 2).budget == 2000
    assert scaled_policy(qt.ShotPolicy.target(0.02), 4).target_stderr == pytest.approx(0.01)
    assert scaled_policy(qt.ShotPolicy.components([2, 10]), 1.5).per_component == (3, 15)
    assert scaled_policy(None, 4) is None
    hook = MonitorHook(None, 3, None, sampled=False)
    assert hook.mask() is None and hook.observe(np.zeros(3), None, 0) is None
    objective, theta0 = converging()
    exact = qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.1),
        budget=qt.Budget(max_steps=3),
        monitor=GradientMonitor(policy="stop", window=1),
    )
    assert exact.stopped_by == "max_steps" and all(r.monitor["exact"] for r in exact.history)


def test_raise_shots_never_breaks_the_money_budget():
    """Money refuses a raised step like shots do: the factor falls until the step fits."""
    monitor = GradientMonitor(policy="raise_shots", window=3, threshold=1.5, max_factor=8.0)
    with pytest.warns(PlateauWarning):
        free = run(monitor)
    base = free.history[0].shots
    raised = actions(free).index("raise_shots")
    table = qt.PricingTable.from_mapping({"currency": "USD", "default": {"per_shot": 0.001}})
    limit = 0.001 * (base * (raised + 1) + 3 * base)
    capped = run(monitor, budget=qt.Budget(max_steps=30, max_cost=limit), pricing=table)
    assert capped.summary["cost"]["total"] <= limit and capped.stopped_by == "max_cost"
    used = [r.monitor["shot_factor_used"] for r in capped.history]
    wanted = [r.monitor["shot_factor"] for r in capped.history]
    assert any(u < w for u, w in zip(used[1:], wanted, strict=False))  # lowered to what fits
