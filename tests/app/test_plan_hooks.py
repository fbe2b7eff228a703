"""``qtrain plan`` prices the operations hooks: drift canaries and validation."""

import pytest
import yaml
from typer.testing import CliRunner

from qtrain.app.config import parse_config
from qtrain.app.runner import plan_from_config, train_from_config
from qtrain.cli import app
from qtrain.cli.plan_view import hook_lines
from qtrain.errors import ConfigError

BASE = {
    "name": "operated",
    "seed": 11,
    "problem": {"name": "classifier", "n_points": 16, "layers": 1},
    "optimizer": {"name": "adam", "learning_rate": 0.1},
    "gradient": {"method": "param-shift", "shots": 50},
    "validation": {"split": 0.25, "every": 3, "shots": 400},
    "drift": {"every_steps": 2, "shots": 100, "baseline": 3, "reference": "baseline"},
}


def config(tmp_path, **overrides):
    data = {**BASE, **overrides, "run": {"dir": str(tmp_path / "run")}}
    return parse_config({k: v for k, v in data.items() if v is not None})


@pytest.mark.parametrize(
    ("budget", "stop"),
    [({"max_steps": 7}, "max_steps"), ({"max_steps": 40, "max_shots": 31_000}, "max_shots")],
)
def test_plan_totals_equal_the_ledger_to_the_shot(tmp_path, budget, stop):
    cfg = config(tmp_path, budget=budget)
    plan = plan_from_config(cfg)
    result, _ = train_from_config(cfg)
    assert result.stopped_by == stop
    assert result.steps == plan["steps"]
    assert result.shots == plan["total_shots"]
    hooks = plan["hooks"]
    canaries = [r.canary for r in result.history if r.canary is not None]
    validations = [r.validation for r in result.history if r.validation is not None]
    assert hooks["drift"]["runs"] == len(canaries)
    assert hooks["drift"]["shots"] == sum(c["shots"] for c in canaries)
    assert hooks["drift"]["first_run_shots"] == 3 * hooks["drift"]["shots_per_run"] == 300
    assert hooks["validation"]["runs"] == len(validations)
    assert hooks["validation"]["shots"] == sum(v["shots"] for v in validations)


def test_hooks_lower_the_steps_a_shot_budget_affords(tmp_path):
    plan = plan_from_config(config(tmp_path, budget={"max_steps": 40, "max_shots": 34_000}))
    assert plan["steps"] < 34_000 // plan["step"]["shots"]
    assert plan["total_shots"] <= 34_000
    hooks = plan["hooks"]
    assert plan["total_shots"] == (
        plan["steps"] * plan["step"]["shots"]
        + hooks["drift"]["shots"]
        + hooks["validation"]["shots"]
    )


def test_validation_stops_at_its_own_max_shots_in_the_plan(tmp_path):
    validation = {"split": 0.25, "every": 1, "shots": 400, "max_shots": 1000}
    cfg = config(tmp_path, budget={"max_steps": 6}, validation=validation, drift=None)
    plan = plan_from_config(cfg)
    assert plan["hooks"]["validation"]["runs"] == 2
    result, _ = train_from_config(cfg)
    assert result.shots == plan["total_shots"]
    assert sum(r.validation is not None for r in result.history) == 2


def test_plan_shows_one_line_per_hook(tmp_path):
    cfg = config(tmp_path, budget={"max_steps": 7})
    lines = dict(hook_lines(plan_from_config(cfg)))
    assert set(lines) == {"drift canary", "validation"}
    assert "every 2 steps: 4 runs, 600 shots" in lines["drift canary"]
    assert "baseline" in lines["drift canary"]
    assert "every 3 steps: 3 runs, 1,200 shots" in lines["validation"]


def test_the_cli_prints_the_hook_lines(tmp_path):
    data = {**BASE, "budget": {"max_steps": 7}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(data))
    out = CliRunner().invoke(app, ["plan", str(tmp_path / "run.yaml")])
    assert out.exit_code == 0, out.output
    assert "drift canary: 100 shots a run" in out.output
    assert "validation: 400 shots a run" in out.output


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"drift": {**BASE["drift"], "policy": "fallback"}}, "needs a backend fallback"),
        ({"calibration": {"max_age": "6h", "policy": "refuse"}}, "calibration"),
    ],
)
def test_plan_refuses_what_train_refuses_in_its_hooks(tmp_path, section, message):
    with pytest.raises(ConfigError, match=message):
        plan_from_config(config(tmp_path, budget={"max_steps": 3}, **section))
