"""``backend: {name: qiskit, ...}``: the section, the example through the CLI, and credentials."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")

from qiskit_ibm_runtime.accounts import management
from typer.testing import CliRunner

import qtrain as qt
from qtrain.app.build import make_backend, prepare
from qtrain.app.config import load_config, parse_config
from qtrain.app.qiskit_config import QiskitBackendConfig
from qtrain.app.runner import gradient_from_config
from qtrain.backends.qiskit import QiskitBackend
from qtrain.backends.qiskit_devices import CREDENTIAL_ENV
from qtrain.cli import app
from qtrain.errors import ConfigError
from qtrain.mitigation.mitigated import Mitigated

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "h2_fake_device.yaml"
SMALL = {  # a 2-qubit objective: fast on any backend
    "name": "qiskit-small",
    "seed": 3,
    "circuit": {"ansatz": "hardware_efficient", "n_qubits": 2, "layers": 1},
    "observable": "Z0 + 0.5 X1 + Z0 Z1",
    "theta0": [0.4, -0.3, 0.2, 0.7],
    "optimizer": {"name": "adam", "learning_rate": 0.1},
    "budget": {"max_steps": 2},
}


@pytest.fixture(autouse=True)
def no_credentials(tmp_path, monkeypatch):
    """No credential variables; the runtime's saved-account file is a path in tmp_path."""
    for name in CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "home" / ".qiskit" / "qiskit-ibm.json"
    monkeypatch.setattr(management, "_DEFAULT_ACCOUNT_CONFIG_JSON_FILE", str(path))
    return path


def example(tmp_path: Path, **overrides: object) -> Path:
    """The example, its runs under tmp_path, with ``overrides`` (``backend`` merged)."""
    data = yaml.safe_load(EXAMPLE.read_text())
    backend = {**data["backend"], **overrides.pop("backend", {})}  # type: ignore[dict-item]
    data = {**data, "backend": backend, "run": {"dir": str(tmp_path / "runs")}, **overrides}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def problems(output: str) -> list[str]:
    """The problems a failed command printed: one per indented line, or the error line."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error: "), output
    if lines[0].endswith("is not a valid run config:"):
        return [line.strip() for line in lines[1:]]
    return [lines[0].removeprefix("error: ")]


def test_the_example_builds_a_qiskit_backend_on_fake_manila():
    config = load_config(EXAMPLE)
    assert isinstance(config.backend, QiskitBackendConfig) and config.backend.kind == "fake"
    backend = make_backend(config.backend)
    assert isinstance(backend, QiskitBackend) and backend.name == "qiskit:fake_manila"
    identity = backend.identity()
    assert identity["device"] == "fake_manila"
    assert identity["transpile"] == {"optimization_level": 1, "seed_transpiler": 11}
    mitigation = parse_config({**SMALL, "mitigation": {"readout": True}}).mitigation
    wrapped = make_backend(config.backend, mitigation)
    assert isinstance(wrapped, Mitigated) and isinstance(wrapped.inner, QiskitBackend)


def test_a_missing_transpiler_seed_is_drawn_from_the_run_seed_and_recorded():
    spec = {"name": "qiskit", "device": "fake_manila"}
    data = {**SMALL, "backend": spec, "gradient": {"shots": 100}}
    first = prepare(parse_config(data)).config.backend
    assert isinstance(first, QiskitBackendConfig) and first.seed_transpiler is not None
    assert prepare(parse_config(data)).config.backend == first  # the same seed: the same layout
    other = prepare(parse_config({**data, "seed": 4})).config.backend
    assert isinstance(other, QiskitBackendConfig) and other.seed_transpiler != first.seed_transpiler


def test_only_the_options_a_config_sets_reach_qiskit_backend():
    plain = QiskitBackendConfig.model_validate({"name": "qiskit", "device": "aer"})
    assert plain.backend_options() == {}
    full = QiskitBackendConfig.model_validate(
        {
            "name": "qiskit",
            "device": "fake_manila",
            "execution": "batch",
            "optimization_level": 2,
            "seed_transpiler": 5,
            "transpile": {"layout_method": "trivial"},
            "cache": {"calibration": "any"},
        }
    )
    assert full.backend_options() == {
        "transpile": {"layout_method": "trivial"},
        "optimization_level": 2,
        "seed_transpiler": 5,
        "execution": "batch",
        "calibration_key": "any",
    }
    accepted = inspect.signature(QiskitBackend).parameters
    if not {"execution", "calibration_key"} <= set(accepted):
        pytest.skip("QiskitBackend does not take execution / calibration_key yet")
    backend = full.build()
    assert isinstance(backend, QiskitBackend)
    assert backend.identity()["transpile"]["layout_method"] == "trivial"
    strict = {"name": "qiskit", "device": "fake_manila", "cache": {"calibration": "strict"}}
    assert "calibration" not in backend.identity()  # "any": the store key holds no calibration
    assert "calibration" in QiskitBackendConfig.model_validate(strict).build().identity()


def test_aer_takes_exact_gradients_equal_to_the_local_simulator():
    config = parse_config({**SMALL, "backend": {"name": "qiskit", "device": "aer"}})
    _, evaluation = gradient_from_config(config)
    circuit = qt.ansatz.hardware_efficient(2, 1)
    observable = qt.Observable.parse(SMALL["observable"])  # type: ignore[arg-type]
    want = qt.grad(circuit, observable, SMALL["theta0"], method="param-shift")
    np.testing.assert_allclose(evaluation.gradient, want.value, atol=1e-10)
    assert evaluation.gradient_stderr is None


def test_plan_and_grad_of_the_example(tmp_path):
    report = json.loads(runner.invoke(app, ["plan", str(EXAMPLE), "--json"]).stdout)
    assert report["backend"]["device"] == "fake_manila" and report["simulation"] == []
    assert report["step"]["shots"] == 17 * 5 * 500  # 8 parameters: 17 rows, 5 groups
    table = runner.invoke(app, ["plan", str(EXAMPLE)])
    assert table.exit_code == 0 and "backend: qiskit fake_manila (job execution" in table.output
    result = runner.invoke(app, ["grad", str(example(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["gradient"]) == 8 and all(e > 0 for e in data["gradient_stderr"])
    assert not (tmp_path / "runs").exists()


def test_mitigation_wraps_a_fake_device_run(tmp_path):
    config = {
        **SMALL,
        "backend": {"name": "qiskit", "device": "fake_manila"},
        "gradient": {"method": "param-shift", "shots": 400},
        "mitigation": {"readout": {"shots": 500, "seed": 2}, "zne": {"factors": [1, 3]}},
    }
    path = tmp_path / "mitigated.yaml"
    path.write_text(yaml.safe_dump(config))
    run_dir = tmp_path / "run"
    result = runner.invoke(app, ["train", str(path), "--run-dir", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["shots"] == 2 * 9 * 2 * 400 + 2 * 2 * 500
    assert summary["mitigation"]["zne"]["factors"] == [1.0, 3.0]
    assert summary["mitigation"]["mitigated_loss"] is None  # no exact values on a device
    assert summary["backend"]["ideal_loss"] is not None


TOKEN = "planted-" + secrets.token_hex(16)
BAD = {
    "unknown key": (
        {"backend": {"shots": 100}},
        "backend.shots: unknown key (allowed: name, device, method, execution",
    ),
    "unknown device": (
        {"backend": {"device": "fake_manilla"}},
        "backend.device: unknown device 'fake_manilla'",
    ),
    "a token": ({"backend": {"token": TOKEN}}, "backend.token: credentials never live in a config"),
    "an api key": (
        {"backend": {"transpile": {"api_key": TOKEN}}},
        "backend.transpile.api_key: credentials never live in a config",
    ),
    "exact on a device": (
        {"gradient": {"method": "param-shift"}},
        "gradient.shots: 'fake_manila' is a device and only samples",
    ),
    "ibm without credentials": (
        {"backend": {"device": "ibm_torino"}},
        "backend.device: no IBM Quantum credentials: QISKIT_IBM_TOKEN is not set",
    ),
    "method on a device": ({"backend": {"method": "statevector"}}, "backend.method: method is Aer"),
    "adjoint": (
        {"gradient": {"method": "adjoint"}},
        "gradient.method: 'adjoint' differentiates the local simulator's state",
    ),
    "transpile's own keys": (
        {"backend": {"transpile": {"optimization_level": 3}}},
        "backend.transpile.optimization_level: give it as backend.optimization_level",
    ),
    "an unknown transpile option": (
        {"backend": {"transpile": {"layout": "dense"}}},
        "backend.transpile.layout: not an option of qiskit.transpile",
    ),
    "a calibration policy": (
        {"backend": {"cache": {"calibration": "sometimes"}}},
        "backend.cache.calibration: Input should be 'strict' or 'any'",
    ),
    "dask workers": (
        {"executor": {"dask": {"n_workers": 2}}},
        "executor.dask: a qiskit backend runs in the run's own process",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_config_error_is_one_line_exit_2_and_no_run_folder(tmp_path, case):
    overrides, message = BAD[case]
    config = example(tmp_path, **overrides)
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and TOKEN not in result.output
    found = [line.removeprefix(f"{config}: ") for line in problems(result.output)]
    assert len(found) == 1 and found[0].startswith(message), found
    assert not (tmp_path / "runs").exists()


def test_ibm_with_credentials_is_checked_before_any_connection(tmp_path, monkeypatch):
    monkeypatch.setenv("QISKIT_IBM_TOKEN", TOKEN)
    config = example(tmp_path, backend={"device": "ibm_torino"}, gradient={"method": "best"})
    result = runner.invoke(app, ["plan", str(config)])  # exact values: refused before a service
    assert result.exit_code == 2 and TOKEN not in result.output
    assert problems(result.output) == [
        f"{config}: gradient.shots: 'ibm_torino' is a device and only samples: give "
        "gradient.shots (or "
        "gradient.budget / target_stderr); exact values need device 'aer'"
    ]
    with pytest.raises(ConfigError, match="only samples"):
        prepare(load_config(config))


@pytest.mark.slow
def test_the_example_trains_through_the_cli_then_reports_and_resumes(tmp_path):
    run_dir = tmp_path / "run"
    result = runner.invoke(app, ["train", str(EXAMPLE), "--run-dir", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stopped_by"] == "max_steps" and summary["steps"] == 20
    assert summary["shots"] == 20 * 17 * 5 * 500
    assert summary["backend"]["device"] == "fake_manila"
    report = summary["problem"]["report"]
    assert report["energy"] == summary["backend"]["ideal_loss"]
    assert report["error_vs_fci"] < 0.02  # the ideal energy of θ trained on the noisy device
    assert summary["last_loss"] > summary["exact_value"] + 0.05  # what the device measures
    for name in ("checkpoint.json", "metrics.jsonl", "results.sqlite", "config.yaml"):
        assert (run_dir / name).exists(), name
    shown = runner.invoke(app, ["report", str(run_dir)])
    assert shown.exit_code == 0, shown.output
    assert (run_dir / "report" / "report.html").stat().st_size > 1000
    more = runner.invoke(app, ["resume", str(run_dir), "--max-steps", "22"])
    assert more.exit_code == 0, more.output
    assert "qiskit fake_manila" in more.output and "ideal loss at final θ" in more.output
    assert json.loads((run_dir / "summary.json").read_text())["steps"] == 22
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 22


def theta_of(run_dir: Path) -> list[float]:
    return list(json.loads((run_dir / "summary.json").read_text())["theta"])


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_parameters_of_an_unbroken_one(tmp_path):
    config = example(tmp_path, budget={"max_steps": 10_000}, gradient={"shots": 100})
    run_dir = tmp_path / "cut"
    process = subprocess.Popen(
        [sys.executable, "-m", "qtrain", "train", str(config), "--run-dir", str(run_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoint.json").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130 and "qtrain resume" in output, output
    steps = qt.train.load_checkpoint(run_dir / "checkpoint.json").step + 2
    resumed = runner.invoke(app, ["resume", str(run_dir), "--max-steps", str(steps)])
    assert resumed.exit_code == 0, resumed.output
    straight = example(tmp_path, budget={"max_steps": steps}, gradient={"shots": 100})
    result = runner.invoke(app, ["train", str(straight), "--run-dir", str(tmp_path / "straight")])
    assert result.exit_code == 0, result.output
    assert theta_of(run_dir) == theta_of(tmp_path / "straight")  # bit-identical


@pytest.mark.slow
def test_a_planted_token_appears_in_no_file_log_or_output(tmp_path, no_credentials):
    """``QISKIT_IBM_TOKEN`` is set for the whole run; nothing may ever write it down."""
    token = "qtrain-planted-" + secrets.token_urlsafe(24)
    mlflow = importlib.util.find_spec("mlflow") is not None
    overrides: dict[str, object] = {"budget": {"max_steps": 3}}
    if mlflow:
        overrides["tracking"] = "mlflow"
    config = example(tmp_path, **overrides)
    env = {**os.environ, "QISKIT_IBM_TOKEN": token, "HOME": str(no_credentials.parents[1])}
    env["QISKIT_IBM_INSTANCE"] = "crn:v1:planted-instance"
    run_dir = tmp_path / "runs" / "planted"

    def qtrain(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qtrain", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=300,
            check=False,
        )

    runs = [
        qtrain("train", str(config), "--run-dir", str(run_dir), "--log-format", "json"),
        qtrain("report", str(run_dir)),
        qtrain("plan", str(config), "--json"),
        qtrain("grad", str(config)),
        qtrain("resume", str(run_dir), "--max-steps", "4", "--log-format", "json"),
    ]
    data = yaml.safe_load(config.read_text())
    data["backend"]["device"] = "ibm_torino"
    data["gradient"] = {"method": "param-shift"}  # exact: refused after reading credentials
    ibm = tmp_path / "ibm.yaml"
    ibm.write_text(yaml.safe_dump(data))
    runs.append(qtrain("plan", str(ibm)))
    assert [r.returncode for r in runs] == [0, 0, 0, 0, 0, 2], [r.stderr for r in runs]
    assert '"event": "step"' in runs[0].stderr or '"step"' in runs[0].stderr
    if mlflow:
        assert (tmp_path / "runs" / "mlflow.db").exists()
    assert (run_dir / "report" / "report.html").exists()
    for done in runs:
        assert token not in done.stdout and token not in done.stderr
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:
        assert token.encode() not in path.read_bytes(), path
