from pathlib import Path

import pytest

from qtrain.app.build import prepare
from qtrain.app.calibration import REQUIRED
from qtrain.app.config import load_config
from qtrain.app.runner import plan_from_config
from qtrain.app.step_plan import first_step

pytest.importorskip("qiskit_aer")

from qtrain.app.qiskit_timing import qiskit_price  # the qiskit extra: after the check

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "h2_fake_device.yaml"


@pytest.fixture(autouse=True)
def timing(tmp_path, monkeypatch):
    monkeypatch.setenv("QTRAIN_CACHE_DIR", str(tmp_path / "cache"))
    coefficients = {name: 1e-5 for name in REQUIRED}
    monkeypatch.setattr("qtrain.app.calibration.measure_fresh", lambda kernels: coefficients)


def test_a_fake_device_is_priced_by_its_measured_per_job_model(tmp_path):
    config = load_config(EXAMPLE)
    step = first_step(prepare(config))
    unmeasured = qiskit_price(step.executor.backend, step.tasks, probe=False)
    assert unmeasured is not None and unmeasured.seconds is None
    assert "run qtrain plan" in unmeasured.note  # a run never probes its own backend
    report = plan_from_config(config)
    assert report["step"]["estimated_seconds"] > 0
    assert "measured per-job model" in report["time"]["basis"]
    assert len(list((tmp_path / "cache").glob("qiskit-*.json"))) == 1
    cached = qiskit_price(step.executor.backend, step.tasks, probe=False)
    assert cached is not None and cached.seconds is not None and cached.seconds > 0


def test_a_providers_device_is_unknown_never_probed(monkeypatch):
    step = first_step(prepare(load_config(EXAMPLE)))
    backend = step.executor.backend
    monkeypatch.setattr(backend.target, "kind", "ibm")

    def refuse(tasks):
        raise AssertionError("a provider's device must not be probed")

    monkeypatch.setattr(backend, "run", refuse)
    price = qiskit_price(backend, step.tasks, probe=True)
    assert price is not None and price.seconds is None and "provider" in price.note
