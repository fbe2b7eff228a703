import json
from pathlib import Path

from typer.testing import CliRunner

from qtrain.cli import app
from qtrain.cli.outcome import execution_rows, run_notes
from qtrain.train.tracking import read_metrics

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_chaos_example_summary_shows_its_retries_failures_and_rejected_results(tmp_path):
    run_dir = tmp_path / "chaos"
    result = runner.invoke(
        app, ["train", str(EXAMPLES / "chaos_faulty.yaml"), "--run-dir", str(run_dir)]
    )
    assert result.exit_code == 0, result.output
    execution = json.loads((run_dir / "summary.json").read_text())["execution"]
    records = read_metrics(run_dir / "metrics.jsonl")
    assert execution["retries"] == sum(r.retries for r in records) > 0
    assert execution["failed_rows"] == sum(r.failures for r in records) > 0
    assert execution["rejected_results"] > 0 and execution["throttled_calls"] > 0
    text = " ".join(result.output.split())
    assert f"backend retries │ {execution['retries']:,}" in text
    assert f"failed or invalid rows (retried) │ {execution['failed_rows']:,}" in text
    assert f"calls with rejected results │ {execution['rejected_results']:,}" in text


def test_a_clean_run_shows_no_execution_rows():
    clean = {"retries": 0, "failed_rows": 0, "rejected_results": 0, "cached_rows": 0}
    assert execution_rows({"execution": clean}) == execution_rows({}) == []


def test_resuming_a_finished_run_says_which_option_continues_it(tmp_path, write_config):
    config = write_config(tmp_path, budget={"max_steps": 3})
    run_dir = tmp_path / "run"
    assert runner.invoke(app, ["train", str(config), "--run-dir", str(run_dir)]).exit_code == 0
    again = runner.invoke(app, ["resume", str(run_dir)])
    assert again.exit_code == 0, again.output
    text = " ".join(again.output.split())
    assert "3/3" in text and f"qtrain resume {run_dir} --max-steps 6" in text
    assert "nothing ran: the run had already spent its step budget (3 steps)" in text
    more = runner.invoke(app, ["resume", str(run_dir), "--max-steps", "4"])  # it ran: no hint
    assert more.exit_code == 0 and "nothing ran" not in more.output


def test_run_notes_name_the_budget_that_stopped_the_run():
    summary = {"stopped_by": "max_shots", "steps": 7, "shots": 1000, "seconds": 2.0}
    ((event, text),) = run_notes(summary, Path("r"), first_step=7)
    assert event == "resume.nothing_to_do" and text.endswith("qtrain resume r --max-shots 2000")
    assert run_notes(summary, Path("r"), first_step=0) == []  # a new run: not a resume
    assert run_notes({**summary, "stopped_by": "loss_tolerance"}, None, first_step=7) == []
    where = {"tracking_uri": "sqlite:///runs/mlflow.db", "experiment": "qtrain", "run_id": "abc"}
    ((event, text),) = run_notes({"tracking": {"mlflow": where}}, None, first_step=None)
    assert event == "mlflow.run" and "run abc in experiment 'qtrain' at sqlite:///runs" in text
