"""``qtrain plan | train`` on a mitigated config: the overhead priced, the run, the errors."""

import json
from pathlib import Path

from typer.testing import CliRunner

from qtrain.cli import app

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOISE = {"after_all": [{"depolarizing": {"p": 0.02}}], "readout": [{"p01": 0.03, "p10": 0.06}]}
MITIGATION = {"readout": {"shots": 1000, "seed": 5}, "zne": {"factors": [1, 3, 5]}}


def flat(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines at the terminal's width


def test_plan_of_the_example_shows_the_mitigation_overhead():
    result = runner.invoke(app, ["plan", str(EXAMPLES / "h2_mitigated.yaml")])
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "mitigated circuits (rows) │ 99 (33 × 3 factors) │ 5,940 + 2 calibration" in text
    assert "circuits (rows) │ 33 (33 distinct)" in text  # the unmitigated line is kept
    assert (
        "mitigation: readout inverted, calibration measured once (2 circuits, exact); ZNE at "
        "scale factors 1, 3, 5 (exponential extrapolation, global folding)"
    ) in text
    assert "variance:" not in text  # exact values: ZNE costs no variance here
    report = json.loads(
        runner.invoke(app, ["plan", str(EXAMPLES / "h2_mitigated.yaml"), "--json"]).stdout
    )
    spec = report["mitigation"]
    assert spec["step"]["rows"] == 3 * report["step"]["rows"] == 99
    assert spec["zne"]["extrapolation"] == "exponential" and spec["readout"]["seed"] is not None
    noisy = runner.invoke(app, ["plan", str(EXAMPLES / "h2_noisy.yaml"), "--json"]).stdout
    assert "mitigation" not in json.loads(noisy)


def test_plan_of_a_sampled_config_prices_the_calibration_and_the_variance(tmp_path, write_config):
    config = write_config(tmp_path, backend={"noise": NOISE}, mitigation=MITIGATION)
    result = runner.invoke(app, ["plan", str(config)])
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "mitigated shots │ 1,800 │" in text and "(incl. 4,000" in text
    assert "calibration measured once (2 circuits, 4,000 shots, seed 5)" in text
    assert "ZNE multiplies each value's variance by ~12.3 at equal shots: stderr ×3.5" in text
    report = json.loads(runner.invoke(app, ["plan", str(config), "--json"]).stdout)
    assert report["mitigation"]["total_shots"] == 8 * 1800 + 4000 == report["total_shots"] + 4000
    assert report["mitigation"]["calibration"] == {"circuits": 2, "shots": 4000}  # 2 × 2 wires


def test_train_a_tiny_mitigated_config_writes_its_summary(tmp_path, write_config):
    config = write_config(
        tmp_path, backend={"noise": NOISE}, mitigation=MITIGATION, budget={"max_steps": 2}
    )
    run_dir = tmp_path / "run"
    result = runner.invoke(app, ["train", str(config), "--run-dir", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["shots"] == 2 * 1800 + 4000  # with calibration
    mitigation = summary["mitigation"]
    assert mitigation["mitigated_loss"] == summary["final_loss_exact"]
    assert mitigation["unmitigated_loss"] == summary["noise"]["noisy_loss"]
    assert abs(mitigation["mitigated_loss"] - summary["noise"]["ideal_loss"]) < abs(
        mitigation["unmitigated_loss"] - summary["noise"]["ideal_loss"]
    )  # mitigation moves the exact noisy loss toward the ideal one


def test_a_broken_mitigation_key_exits_2_with_one_error_and_no_run_folder(tmp_path, write_config):
    mitigation = {"zne": {"factors": [1, 3, 5], "extrapolaton": "linear"}}
    config = write_config(tmp_path, backend={"noise": NOISE}, mitigation=mitigation)
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    problems = [line.strip() for line in result.output.splitlines() if line.startswith("  ")]
    assert len(problems) == 1 and problems[0].startswith(
        "mitigation.zne.extrapolaton: unknown key (allowed: factors, extrapolation, folding"
    ), problems
    assert not (tmp_path / "runs").exists()
