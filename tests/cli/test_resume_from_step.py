"""``qtrain resume RUN --from-step N [--run-dir NEW]``: roll a run back to any step."""

import json

from typer.testing import CliRunner

from qtrain.app.runner import resume_from_dir
from qtrain.cli import app

runner = CliRunner()


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def train(tmp_path, write_config, steps=8):
    config = write_config(tmp_path, budget={"max_steps": steps})
    parent = tmp_path / "parent"
    result = runner.invoke(app, ["train", str(config), "--run-dir", str(parent)])
    assert result.exit_code == 0, result.output
    return parent


def test_a_branch_reproduces_the_parent_bit_for_bit(tmp_path, write_config):
    parent = train(tmp_path, write_config)
    for name in ("a", "b"):
        args = ["resume", str(parent), "--from-step", "3", "--run-dir", str(tmp_path / name)]
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["run_dir"] == str(tmp_path / name)
    theirs = records(parent)
    for name in ("a", "b"):
        ours = records(tmp_path / name)
        assert [r["theta"] for r in ours] == [r["theta"] for r in theirs]  # θ_0 … θ_7
        assert [r["loss"] for r in ours] == [r["loss"] for r in theirs]
        assert ours[:3] == theirs[:3]  # the parent's first records, as they were
        checkpoint = json.loads((tmp_path / name / "checkpoint.json").read_text())
        final = json.loads((parent / "checkpoint.json").read_text())
        assert checkpoint["theta"] == final["theta"]
        info = json.loads((tmp_path / name / "run.json").read_text())
        assert info["parent"] == {"run": str(parent.resolve()), "step": 3}
    assert len(records(parent)) == 8  # the parent is untouched


def test_the_branch_starts_at_the_theta_of_step_n(tmp_path, write_config):
    parent = train(tmp_path, write_config, steps=6)
    child = tmp_path / "child"
    args = ["resume", str(parent), "--from-step", "4", "--run-dir", str(child)]
    result = runner.invoke(app, [*args, "--max-steps", "4"])  # no step more: just roll back
    assert result.exit_code == 0, result.output
    state = json.loads((child / "checkpoint.json").read_text())
    assert state["step"] == 4 and state["theta"] == records(parent)[4]["theta"]


def test_the_default_folder_sits_beside_the_parent(tmp_path, write_config):
    parent = train(tmp_path, write_config, steps=3)
    for expected in ("parent-from-1", "parent-from-1-2"):
        result = runner.invoke(app, ["resume", str(parent), "--from-step", "1", "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["run_dir"] == str(tmp_path / expected)


def test_out_of_range_is_one_clear_error(tmp_path, write_config):
    parent = train(tmp_path, write_config, steps=3)
    result = runner.invoke(app, ["resume", str(parent), "--from-step", "9"])
    assert result.exit_code == 2
    assert "--from-step 9 is out of range" in result.output and "0 to 3" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "parent-from-9").exists()
    negative = runner.invoke(app, ["resume", str(parent), "--from-step", "-1"])
    assert negative.exit_code == 2 and "Traceback" not in negative.output


def test_run_dir_needs_from_step(tmp_path, write_config):
    parent = train(tmp_path, write_config, steps=2)
    result = runner.invoke(app, ["resume", str(parent), "--run-dir", str(tmp_path / "x")])
    assert result.exit_code == 2 and "needs --from-step" in result.output
    assert not (tmp_path / "x").exists()


def test_the_python_function_branches_too(tmp_path, write_config):
    parent = train(tmp_path, write_config, steps=5)
    result = resume_from_dir(parent, from_step=2, new_dir=tmp_path / "py")
    assert result.run_dir == tmp_path / "py" and result.steps == 5
    assert [r.theta for r in result.history] == [tuple(r["theta"]) for r in records(parent)]


def test_a_refused_branch_leaves_no_folder(tmp_path, write_config):
    """Everything a resume refuses is refused before the branch folder is written."""
    parent = train(tmp_path, write_config, steps=3)
    config = parent / "config.yaml"
    config.write_text(config.read_text().replace("learning_rate:", "learning_rat:"))
    result = runner.invoke(app, ["resume", str(parent), "--from-step", "1"])
    assert result.exit_code == 2 and "learning_rat" in result.output
    assert not (tmp_path / "parent-from-1").exists()
