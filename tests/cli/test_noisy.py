"""``qtrain plan | train | resume`` on a noisy config: method, memory, noise model, verdict."""

import json
import shutil
from pathlib import Path

import yaml
from typer.testing import CliRunner

import qtrain as qt
from qtrain.cli import app

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FCI = -1.137270174660903  # H₂ at 0.7414 Å, STO-3G


def noisy_example(tmp_path: Path, **overrides) -> Path:
    """examples/h2_noisy.yaml in ``tmp_path`` with its calibration beside it, as shipped."""
    shutil.copytree(EXAMPLES / "calibrations", tmp_path / "calibrations")
    config = yaml.safe_load((EXAMPLES / "h2_noisy.yaml").read_text())
    config.update({"run": {"dir": str(tmp_path / "runs")}, **overrides})
    path = tmp_path / "h2_noisy.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_plan_shows_the_method_its_memory_and_the_noise_model():
    result = runner.invoke(app, ["plan", str(EXAMPLES / "h2_noisy.yaml")])
    assert result.exit_code == 0, result.output
    assert "simulation: density_matrix, 16.0 KiB per row (auto: exact noisy values)" in (
        result.output
    )
    calibration = qt.Calibration.load(EXAMPLES / "calibrations" / "fake_5q.json")
    on_wires = qt.Calibration(
        calibration.id,
        calibration.timestamp,
        calibration.t1[:4],
        calibration.t2[:4],
        calibration.readout_p01[:4],
        calibration.readout_p10[:4],
        tuple(g for g in calibration.gates if max(g.wires) < 4),
    )
    fingerprint = qt.NoiseModel.from_calibration(on_wires).fingerprint()
    assert f"noise model: {fingerprint[:12]}, calibration fake-5q-2025-01-15@0,1,2,3" in (
        result.output
    )
    report = json.loads(
        runner.invoke(app, ["plan", str(EXAMPLES / "h2_noisy.yaml"), "--json"]).stdout
    )
    (simulation,) = report["simulation"]
    assert simulation["method"] == "density_matrix" and simulation["bytes_per_row"] > 4**4 * 16
    assert report["backend"]["model"] == fingerprint and report["backend"]["method"] == "auto"


def test_train_reports_the_noisy_minimum_against_fci_then_resumes(tmp_path):
    config = noisy_example(tmp_path, budget={"max_steps": 4})
    run_dir = tmp_path / "run"
    result = runner.invoke(app, ["train", str(config), "--run-dir", str(run_dir)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # the caption wraps at the terminal's width
    assert "density_matrix (method auto)" in text and "fake-5q-2025-01-15@0,1,2,3" in text
    assert "noisy minimum -1." in text and " Ha above FCI -1.137270 Ha" in text
    summary = json.loads((run_dir / "summary.json").read_text())
    noise = summary["noise"]
    assert noise["noisy_loss"] == summary["final_loss_exact"] > FCI + 0.01  # noise costs energy
    assert noise["ideal_loss"] < noise["noisy_loss"] and noise["methods"] == ["density_matrix"]
    assert summary["problem"]["report"]["error_vs_fci"] == summary["error"] > 0
    more = runner.invoke(app, ["resume", str(run_dir), "--max-steps", "5", "--json"])
    assert more.exit_code == 0, more.output
    assert json.loads(more.stdout)["steps"] == 5


def test_a_broken_noise_key_exits_2_with_one_error_and_no_run_folder(tmp_path):
    noise = {"after": [{"gate": "CNOT", "channel": {"depolarising": {"p": 0.03}}}]}
    config = noisy_example(tmp_path, backend={"name": "local", "noise": noise})
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    problems = [line for line in result.output.splitlines() if line.startswith("  ")]
    assert problems == [
        "  backend.noise.after[0].channel: unknown channel 'depolarising' (did you mean "
        "depolarizing?); choose one of depolarizing, bit_flip, phase_flip, pauli_channel, "
        "amplitude_damping, phase_damping, thermal_relaxation, kraus, tensor"
    ]
    assert not (tmp_path / "runs").exists()
    trajectories = {**yaml.safe_load((EXAMPLES / "h2_noisy.yaml").read_text())["backend"]}
    trajectories["method"] = "trajectories"  # exact gradients (no shots): trajectories cannot
    exact = noisy_example(tmp_path / "t", backend=trajectories)
    result = runner.invoke(app, ["train", str(exact)])
    assert result.exit_code == 2 and "backend.method: method 'trajectories'" in result.output
    assert not (tmp_path / "t" / "runs").exists()
