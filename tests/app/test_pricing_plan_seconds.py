"""``qtrain plan`` quotes a per-second rate as the run does: under ``max_cost`` at the
backend's seconds bound (a fake IBM device's ``max_wait_s``), so plan and run agree."""

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from qtrain.app.config import parse_config
from qtrain.app.runner import plan_from_config, train_from_config
from qtrain.exec.billing import Quote
from qtrain.exec.pricing import to_decimal
from qtrain.train import step_spend

pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "h2_fake_device.yaml"


def _config(tmp_path: Path, max_cost: float) -> object:
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["backend"]["max_wait_s"] = 600
    spec["budget"] = {"max_steps": 1, "max_cost": max_cost}
    spec["pricing"] = {"currency": "USD", "default": {"per_second": "1.60"}}
    spec["executor"] = {"retry": {"attempts": 2, "initial_s": 0.0, "max_s": 0.0}}
    spec["run"] = {"dir": str(tmp_path / "run")}
    return parse_config(spec)


@pytest.mark.parametrize(("max_cost", "steps"), [(900.0, 0), (2000.0, 1)])
def test_plan_and_run_quote_the_seconds_bound_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_cost: float, steps: int
) -> None:
    config = _config(tmp_path, max_cost)
    plan = plan_from_config(config)
    quotes: list[Quote] = []
    price_step = step_spend.price_step

    def watched(*args: object, **kwargs: object) -> Quote | None:
        quoted = price_step(*args, **kwargs)  # type: ignore[arg-type]
        quotes.append(quoted)  # type: ignore[arg-type]
        return quoted

    monkeypatch.setattr(step_spend, "price_step", watched)
    result, _ = train_from_config(config)
    assert plan["steps"] == plan["cost"]["affordable_steps"] == result.steps == steps
    assert to_decimal(plan["cost"]["per_step"]) == quotes[0].money == Decimal("960")
    assert plan["cost"]["step_seconds"] == quotes[0].seconds == 600.0
