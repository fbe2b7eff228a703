"""Canaries and validation are priced in money: plan and ledger agree to the cent."""

from decimal import Decimal

import pytest

from qtrain.app.config import parse_config
from qtrain.app.runner import plan_from_config, train_from_config
from qtrain.exec.pricing import to_decimal

PRICING = {"currency": "USD", "default": {"per_task": "0.30", "per_shot": "0.00035"}}
BASE = {
    "name": "operated",
    "seed": 11,
    "problem": {"name": "classifier", "n_points": 16, "layers": 1},
    "optimizer": {"name": "adam", "learning_rate": 0.1},
    "gradient": {"method": "param-shift", "shots": 50},
    "validation": {"split": 0.25, "every": 3, "shots": 400},
    "drift": {"every_steps": 2, "shots": 100, "baseline": 3, "reference": "baseline"},
    "pricing": PRICING,
}


@pytest.mark.parametrize(
    ("budget", "stop"), [({"max_steps": 7}, "max_steps"), ({"max_cost": 40.0}, "max_cost")]
)
def test_plan_money_equals_the_ledger_to_the_cent(tmp_path, budget, stop):
    config = parse_config({**BASE, "budget": budget, "run": {"dir": str(tmp_path / "run")}})
    plan = plan_from_config(config)
    result, _ = train_from_config(config)
    assert result.stopped_by == stop
    assert result.steps == plan["steps"] == plan["cost"]["affordable_steps"]
    assert result.shots == plan["total_shots"]
    cents = Decimal("0.01")
    ledger = to_decimal(result.summary["cost"]["total"])
    assert to_decimal(plan["cost"]["total"]).quantize(cents) == ledger.quantize(cents)
    hooks = plan["hooks"]
    hook_money = to_decimal(hooks["drift"]["money"]) + to_decimal(hooks["validation"]["money"])
    steps_money = to_decimal(plan["cost"]["per_step"]) * plan["steps"]
    assert to_decimal(plan["cost"]["total"]) == steps_money + hook_money
    assert ledger <= Decimal(str(budget.get("max_cost", 1e9)))
