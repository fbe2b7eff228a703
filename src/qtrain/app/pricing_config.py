"""``pricing:`` in a run config: a pricing table by path (a YAML file) or inline.

A path is found relative to the config file, whatever the working directory, and the table
is read and checked when the config is (a bad rate names its key: ``pricing:
backends.ibm_fez.per_second must be a number >= 0``). ``budget.max_cost`` needs a table:
without one it is refused before any work (:func:`pricing_of`).

>>> spec = {"currency": "USD", "default": {"per_task": 0.3, "per_shot": 0.00035}}
>>> table = table_of(spec, max_cost=None)
>>> table.currency, str(table.default.per_shot)
('USD', '0.00035')
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pydantic

from qtrain.app.config_errors import relative_to_config
from qtrain.backends.protocol import Task
from qtrain.errors import ConfigError, QtrainError
from qtrain.exec.pricing import PricingTable, to_decimal
from qtrain.train.step_money import price_step

if TYPE_CHECKING:
    from qtrain.app.config import RunConfig

__all__ = ["PricingSpec", "plan_money", "pricing_of", "table_of"]


def _resolved(value: object, info: pydantic.ValidationInfo) -> Path | dict[str, Any] | None:
    """A path made absolute (relative to the config file), or the inline table; checked."""
    if value is None:
        return None
    try:
        if isinstance(value, dict):
            PricingTable.from_mapping(value)
            return value
        if isinstance(value, str | Path):
            path = Path(str(relative_to_config(str(value), info)))
            PricingTable.load(path)
            return path
    except QtrainError as error:
        raise ValueError(str(error)) from None
    raise ValueError(f"pricing must be a path to a YAML table or a mapping, got {value!r}")


PricingSpec = Annotated[Path | dict[str, Any] | None, pydantic.BeforeValidator(_resolved)]
"""The type of ``RunConfig.pricing``."""


def pricing_of(config: RunConfig) -> PricingTable | None:
    """The run's pricing table (``None``: none), refused as :func:`table_of` refuses it."""
    return table_of(config.pricing, max_cost=config.budget.max_cost)


def table_of(
    pricing: Path | dict[str, Any] | None, *, max_cost: float | None
) -> PricingTable | None:
    """The pricing table of a ``pricing:`` entry (``None``: no table).

    Raises:
        ConfigError: ``budget.max_cost`` without a table, or an invalid table (naming its key).
    """
    if pricing is None:
        if max_cost is not None:
            raise ConfigError(
                f"budget.max_cost={max_cost} needs a pricing table: add pricing: (a path to a "
                "YAML table, examples/pricing/, or the table inline)"
            )
        return None
    if isinstance(pricing, dict):
        return PricingTable.from_mapping(pricing, source="inline")
    return PricingTable.load(pricing)


def plan_money(
    config: RunConfig,
    backend: object,
    tasks: Sequence[Task],
    shots: tuple[int, int],
    affordable: int,
) -> tuple[dict[str, Any] | None, int]:
    """``qtrain plan``'s ``cost`` and the steps the money affords as well (``None``: no table).

    ``shots``: ``(a step's shots, the one-off readout calibration's)``; the first step pays
    for the calibration too, as the run's ledger charges it. A step is quoted as the session
    quotes it (``train.step_money.price_step``: under ``max_cost`` a per-second rate at the
    backend's seconds bound), before any seconds are observed; ``affordable`` is what the
    other budgets allow.
    """
    table = pricing_of(config)
    if table is None:
        return None, affordable
    limit, steps = config.budget.max_cost, affordable
    step = price_step(table, backend, tasks, shots[0], bounded=limit is not None)
    assert step is not None  # a table prices every step
    once = table.price(backend).charge(tasks=0, shots=shots[1], seconds=0.0)
    if limit is not None and step.money > 0:
        left = to_decimal(limit) - once
        steps = min(steps, max(int(left // step.money), 0))
    elif limit is not None and once > to_decimal(limit):
        steps = 0
    return {
        "currency": table.currency,
        "table": table.source,
        "per_step": float(step.money),
        "step_tasks": step.tasks,
        "step_seconds": step.seconds,
        "calibration": float(once),
        "total": float(once + step.money * steps) if steps else 0.0,
        "max_cost": limit,
        "affordable_steps": steps,
    }, steps
