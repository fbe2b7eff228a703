"""pricing: in run configs; qtrain plan's money agrees with the run's ledger to the cent."""

import json
from decimal import Decimal

import pytest
import yaml
from typer.testing import CliRunner

from qtrain.app.config import load_config, parse_config
from qtrain.app.runner import plan_from_config, train_from_config
from qtrain.cli import app
from qtrain.cli.plan_view import cost_lines
from qtrain.errors import ConfigError
from qtrain.exec.pricing import to_decimal

CUSTOM = {
    "name": "priced",
    "seed": 4,
    "circuit": {"ansatz": "hardware_efficient", "n_qubits": 3, "layers": 1},
    "observable": "Z0 Z1 + 0.5 X2",
    "optimizer": {"name": "adam", "learning_rate": 0.05},
    "gradient": {"method": "param-shift", "shots": 100},
    "budget": {"max_steps": 50, "max_cost": 6.0},
    "pricing": {"currency": "USD", "default": {"per_task": "0.30", "per_shot": "0.00035"}},
}


def test_plan_and_ledger_agree_to_the_cent(tmp_path):
    config = parse_config({**CUSTOM, "run": {"dir": str(tmp_path)}})
    plan = plan_from_config(config)
    money = plan["cost"]
    result, _ = train_from_config(config)
    assert result.stopped_by == "max_cost"
    assert result.steps == money["affordable_steps"] == plan["steps"]
    cents = Decimal("0.01")
    assert to_decimal(money["total"]).quantize(cents) == to_decimal(
        result.summary["cost"]["total"]
    ).quantize(cents)
    assert all(to_decimal(r.cost) == to_decimal(money["per_step"]) for r in result.history)
    lines = dict(cost_lines(plan))
    assert "affords" in lines["money for the run"] and "USD" in lines["money per step"]


def test_a_pricing_path_is_read_relative_to_the_config(tmp_path):
    (tmp_path / "prices.yaml").write_text("currency: EUR\ndefault: {per_shot: 0.001}\n")
    data = {**CUSTOM, "pricing": "prices.yaml"}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(data))
    config = load_config(tmp_path / "run.yaml")
    assert config.pricing == tmp_path / "prices.yaml"
    assert plan_from_config(config)["cost"]["currency"] == "EUR"


@pytest.mark.parametrize(
    ("pricing", "message"),
    [
        ({"currency": "USD", "default": {"per_shot": -1}}, r"default\.per_shot must be"),
        ({"currency": "USD", "backends": {"x": {"per_sec": 1}}}, r"backends\.x\.per_sec"),
        ({"default": {"per_shot": 1}}, "currency"),
        ("missing.yaml", "cannot read"),
        (3, "path to a YAML table or a mapping"),
    ],
)
def test_bad_pricing_names_the_key(pricing, message):
    with pytest.raises(ConfigError, match=message) as raised:
        parse_config({**CUSTOM, "pricing": pricing})
    assert "pricing" in str(raised.value)


def test_max_cost_without_pricing_is_refused_before_work(tmp_path):
    config = parse_config({**CUSTOM, "pricing": None, "run": {"dir": str(tmp_path)}})
    with pytest.raises(ConfigError, match=r"budget\.max_cost"):
        plan_from_config(config)
    with pytest.raises(ConfigError, match=r"budget\.max_cost"):
        train_from_config(config)
    assert not any(tmp_path.iterdir())  # no run folder left behind


def test_a_run_stopped_by_money_resumes_with_a_larger_money_budget(tmp_path):
    config = parse_config({**CUSTOM, "budget": {"max_steps": 50, "max_cost": 1.5}})
    result, _ = train_from_config(config, run_dir=tmp_path / "run")
    assert result.stopped_by == "max_cost"
    more = CliRunner().invoke(app, ["resume", str(tmp_path / "run"), "--max-cost", "3", "--json"])
    assert more.exit_code == 0, more.output
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["budget"]["max_cost"] == 3
    summary = json.loads(more.stdout)
    assert summary["stopped_by"] == "max_cost" and summary["steps"] > result.steps
    assert 1.5 < float(summary["cost"]["total"]) <= 3.0
