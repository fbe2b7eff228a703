"""Calibration freshness on a fake IBM device (FakeManilaV2: its calibration is years old)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")
fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")

import qtrain as qt  # noqa: E402
from qtrain.backends.protocol import Task  # noqa: E402
from qtrain.backends.qiskit import QiskitBackend  # noqa: E402
from qtrain.exec.executor import Executor  # noqa: E402
from qtrain.train.freshness import CalibrationFreshness  # noqa: E402

CIRCUIT = qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1)).cnot(0, 1)
OBJECTIVE = qt.Objective.single(CIRCUIT, qt.Z(0) + 0.5 * qt.Z(1))
THETA0 = np.array([0.3, -0.2])
HOUR = 3600.0


@pytest.fixture(scope="module")
def manila() -> QiskitBackend:
    return QiskitBackend(fake_provider.FakeManilaV2(), seed_transpiler=7)


def _taken(backend: QiskitBackend) -> float:
    assert backend.calibration is not None
    return datetime.fromisoformat(backend.calibration.timestamp).timestamp()


def _fit(backend: QiskitBackend, hook: CalibrationFreshness, **kw: object) -> qt.FitResult:
    return qt.fit(
        OBJECTIVE, THETA0, qt.optim.Adam(learning_rate=0.1), shots=100, seed=3,
        budget=qt.Budget(max_steps=2), executor=kw.pop("executor", None) or Executor(backend),
        hooks=[hook], **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_the_fake_devices_calibration_is_years_old(manila: QiskitBackend) -> None:
    age = CalibrationFreshness(clock=lambda: datetime.now().timestamp())  # record only
    result = _fit(manila, age)
    assert all(r.calibration_age_s is not None for r in result.history)
    assert min(r.calibration_age_s or 0 for r in result.history) > 365 * 24 * HOUR


def test_warn_logs_goes_on_and_records_age_and_readout(
    manila: QiskitBackend, caplog: pytest.LogCaptureFixture
) -> None:
    hook = CalibrationFreshness(6 * HOUR, policy="warn", clock=lambda: _taken(manila) + 7 * HOUR)
    with caplog.at_level(logging.WARNING, logger="qtrain"):
        result = _fit(manila, hook)
    assert result.stopped_by == "max_steps" and result.steps == 2
    assert [r.calibration_age_s for r in result.history] == [7 * HOUR] * 2
    [stale] = [r for r in caplog.records if getattr(r, "event", "") == "calibration.stale"]
    assert "fake_manila@" in stale.getMessage()
    # the readout error is that of the physical qubits the circuit was laid out on
    props = manila.backend.properties()
    physical = manila.compiled(Task(CIRCUIT, (qt.Z(0),), np.zeros((1, 2)))).physical
    want = np.mean(
        [
            (props.qubit_property(q)["prob_meas1_prep0"][0]
             + props.qubit_property(q)["prob_meas0_prep1"][0]) / 2
            for q in set(physical)
        ]
    )  # fmt: skip
    assert [r.readout_error for r in result.history] == [pytest.approx(want)] * 2
    assert 0 < want < 0.2


def test_refuse_stops_with_calibration_stale_before_any_shot(
    manila: QiskitBackend, tmp_path: Path
) -> None:
    hook = CalibrationFreshness(6 * HOUR, policy="refuse", clock=lambda: _taken(manila) + 7 * HOUR)
    executor = Executor(manila)
    result = _fit(manila, hook, executor=executor, run_dir=tmp_path / "run")
    assert result.stopped_by == "calibration_stale"
    assert result.steps == 0 and result.shots == 0
    assert executor.counters.calls == 0 and executor.counters.submitted == 0
    assert result.summary["stopped_by"] == "calibration_stale"
