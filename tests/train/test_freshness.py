"""Calibration freshness (train/freshness.py) on local backends that report a calibration."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

import qtrain as qt
from qtrain.backends.local import LocalSimulator
from qtrain.backends.protocol import BackendLimits, Result, Task
from qtrain.errors import ConfigError
from qtrain.mitigation.correlated import ConfusionMatrix
from qtrain.noise.calibration import Calibration
from qtrain.noise.readout import ReadoutError
from qtrain.train.freshness import CalibrationFreshness, _marginal_errors, readout_error
from qtrain.train.records import StepRecord
from qtrain.train.step_hooks import HookResult

CIRCUIT = qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1)).cnot(0, 1)
OBJECTIVE = qt.Objective.single(CIRCUIT, qt.Z(0) + 0.5 * qt.Z(1))
THETA0 = np.array([0.3, -0.2])
TAKEN = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
SNAPSHOT = Calibration(
    id="dev@2026-12-01",
    timestamp=TAKEN.isoformat(),
    t1=(100.0, 100.0, 100.0),
    t2=(80.0, 80.0, 80.0),
    readout_p01=(0.01, 0.03, 0.5),
    readout_p10=(0.03, 0.05, 0.5),
)


class Device:
    """A simulator that reports a calibration snapshot (as a QiskitBackend does)."""

    def __init__(self, calibration: Calibration | None = SNAPSHOT) -> None:
        self.inner, self.calibration, self.calls = LocalSimulator(), calibration, 0

    name = "device"

    @property
    def limits(self) -> BackendLimits:
        return self.inner.limits

    def run(self, tasks: Sequence[Task]) -> list[Result | None]:
        self.calls += 1
        return self.inner.run(tasks)


class Clock:
    def __init__(self, age_s: float) -> None:
        self.now = TAKEN.timestamp() + age_s

    def __call__(self) -> float:
        return self.now


def _fit(run_dir: Path | None, backend: object, hook: object, **kw: object) -> qt.FitResult:
    return qt.fit(
        OBJECTIVE, THETA0, qt.optim.Adam(learning_rate=0.1), shots=200, seed=5,
        budget=qt.Budget(max_steps=int(kw.pop("steps", 3))), backend=backend,  # type: ignore[arg-type]
        run_dir=run_dir, hooks=[hook], **kw,  # type: ignore[list-item, arg-type]
    )  # fmt: skip


def test_warn_logs_once_per_calibration_and_records_age_and_readout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock(7200.0)
    hook = CalibrationFreshness(3600.0, policy="warn", clock=clock)
    with caplog.at_level(logging.WARNING, logger="qtrain"):
        result = _fit(None, Device(), hook)
    assert result.stopped_by == "max_steps" and result.steps == 3
    assert [r.calibration_age_s for r in result.history] == [7200.0] * 3
    # wires 0 and 1 are measured (the device's layout is the identity): qubit 2 is not
    assert [r.readout_error for r in result.history] == [pytest.approx(0.03)] * 3
    stale = [r for r in caplog.records if getattr(r, "event", "") == "calibration.stale"]
    assert len(stale) == 1 and stale[0].levelno == logging.WARNING
    assert "dev@2026-12-01" in stale[0].getMessage() and "7200 s old" in stale[0].getMessage()


def test_fresh_calibrations_pass_silently(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="qtrain"):
        result = _fit(None, Device(), CalibrationFreshness(3600.0, clock=Clock(60.0)))
    assert [r.calibration_age_s for r in result.history] == [60.0] * 3
    assert not [r for r in caplog.records if getattr(r, "event", "") == "calibration.stale"]


def test_refuse_stops_before_any_shot_and_resumes_once_recalibrated(tmp_path: Path) -> None:
    device, clock = Device(), Clock(7200.0)
    hook = CalibrationFreshness(3600.0, policy="refuse", clock=clock)
    stopped = _fit(tmp_path / "run", device, hook)
    assert stopped.stopped_by == "calibration_stale"
    assert stopped.steps == 0 and stopped.shots == 0 and device.calls == 0
    clock.now = TAKEN.timestamp() + 10.0  # the device recalibrated (here: time went back)
    resumed = _fit(tmp_path / "run", device, hook, resume=True)
    assert resumed.stopped_by == "max_steps" and resumed.steps == 3
    assert resumed.history[0].calibration_age_s == 10.0


class Canary:
    """A hook after the freshness check that would spend shots before every step."""

    name = "canary"
    calls = 0

    def before_step(self, session: object) -> HookResult:
        self.calls += 1
        return HookResult(shots=50)

    def after_step(self, session: object, record: StepRecord) -> StepRecord:
        return record

    def on_error(self, session: object, error: Exception) -> bool:
        return False


def test_a_refusal_comes_before_later_hooks_spend_anything() -> None:
    canary = Canary()
    stopped = qt.fit(
        OBJECTIVE, THETA0, qt.optim.Adam(), shots=200, seed=5, budget=qt.Budget(max_steps=3),
        backend=Device(), hooks=[CalibrationFreshness(60.0, policy="refuse", clock=Clock(61.0)),
                                 canary],  # type: ignore[list-item]
    )  # fmt: skip
    assert stopped.stopped_by == "calibration_stale" and stopped.shots == 0
    assert canary.calls == 0


def test_refuse_on_a_backend_without_calibration_time_is_bad_input() -> None:
    device = Device(calibration=None)
    with pytest.raises(ConfigError, match="backend device reports no calibration time"):
        _fit(None, device, CalibrationFreshness(60.0, policy="refuse"))
    assert device.calls == 0
    # warn (or record only) on such a backend: nothing known, nothing recorded
    result = _fit(None, LocalSimulator(), CalibrationFreshness(60.0))
    assert {(r.calibration_age_s, r.readout_error) for r in result.history} == {(None, None)}


def test_bad_options_are_refused() -> None:
    for age in (0, -1.0, float("inf"), "6h", True):
        with pytest.raises(ConfigError, match="max_age_s must be a positive number"):
            CalibrationFreshness(age)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="one of warn, refuse, got 'pause'"):
        CalibrationFreshness(60.0, policy="pause")
    with pytest.raises(ConfigError, match="'refuse' needs max_age_s"):
        CalibrationFreshness(policy="refuse")


def test_readout_error_of_a_mitigated_backend_is_its_calibrations() -> None:
    given = {0: ReadoutError(0.02, 0.04), 1: ReadoutError(0.06, 0.08)}
    backend = qt.Mitigated(Device(), readout=qt.ReadoutMitigation(given))
    assert readout_error(backend, OBJECTIVE, exact=False) == pytest.approx(0.05)
    # mitigation that measures: nothing before the calibration is measured (no shots spent)
    measuring = qt.Mitigated(LocalSimulator(), readout=qt.ReadoutMitigation(shots=100))
    assert readout_error(measuring, OBJECTIVE, exact=False) is None
    measuring.prepare([Task(CIRCUIT, (qt.Z(0),), np.zeros((1, 2)), 10)])
    assert readout_error(measuring, OBJECTIVE, exact=False) == 0.0  # an ideal simulator
    # without readout mitigation the device's own calibration answers (wires 0 and 1)
    zne_only = qt.Mitigated(Device(), zne=qt.ZNE())
    assert readout_error(zne_only, OBJECTIVE, exact=False) == pytest.approx(0.03)


def test_confusion_matrix_marginals_are_the_per_wire_error_rates() -> None:
    def wire(p01: float, p10: float) -> np.ndarray:
        return np.array([[1 - p01, p10], [p01, 1 - p10]])

    matrix = np.kron(wire(0.1, 0.3), wire(0.02, 0.04))  # wire 1 ⊗ wire 0 (little-endian)
    rates = _marginal_errors(ConfusionMatrix(matrix, np.zeros(4, dtype=np.int64)))
    assert sorted(rates) == pytest.approx([0.03, 0.2])
