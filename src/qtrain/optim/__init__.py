"""Optimizers: ``init`` / ``ask`` / ``update`` with explicit, JSON-ready state.

>>> import qtrain as qt
>>> sorted(qt.optim.OPTIMIZERS)
['adam', 'qng', 'rosalin', 'sgd', 'spsa']
>>> qt.optim.from_config({"name": "adam", "learning_rate": 0.05}).learning_rate
0.05
"""

from __future__ import annotations

from dataclasses import fields as _fields
from typing import Any as _Any

from qtrain.errors import ConfigError as _ConfigError
from qtrain.optim.adam import Adam as Adam
from qtrain.optim.base import Observation as Observation
from qtrain.optim.base import Optimizer as Optimizer
from qtrain.optim.base import OptimizerState as OptimizerState
from qtrain.optim.base import Request as Request
from qtrain.optim.base import Update as Update
from qtrain.optim.qng import QNG as QNG
from qtrain.optim.rosalin import Rosalin as Rosalin
from qtrain.optim.schedules import Constant as Constant
from qtrain.optim.schedules import Cosine as Cosine
from qtrain.optim.schedules import Exponential as Exponential
from qtrain.optim.schedules import InverseTime as InverseTime
from qtrain.optim.schedules import Schedule as Schedule
from qtrain.optim.schedules import Step as Step
from qtrain.optim.schedules import schedule_from_config as _schedule_from_config
from qtrain.optim.sgd import GradientDescent as GradientDescent
from qtrain.optim.spsa import SPSA as SPSA

__all__ = [
    "OPTIMIZERS",
    "QNG",
    "SPSA",
    "Adam",
    "Constant",
    "Cosine",
    "Exponential",
    "GradientDescent",
    "InverseTime",
    "Observation",
    "Optimizer",
    "OptimizerState",
    "Request",
    "Rosalin",
    "Schedule",
    "Step",
    "Update",
    "from_config",
]

OPTIMIZERS: dict[str, type[_Any]] = {
    "sgd": GradientDescent,
    "adam": Adam,
    "spsa": SPSA,
    "qng": QNG,
    "rosalin": Rosalin,
}
"""Optimizer classes by their config name."""


def from_config(config: dict[str, _Any]) -> Optimizer:
    """The optimizer a ``config()`` dict describes (its ``schedule`` rebuilt too).

    Raises:
        ConfigError: an unknown name or hyperparameter, naming the allowed ones.
    """
    options = dict(config)
    name = options.pop("name", None)
    if name not in OPTIMIZERS:
        raise _ConfigError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    cls = OPTIMIZERS[name]
    allowed = [f.name for f in _fields(cls) if f.init]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise _ConfigError(
            f"optimizer {name!r} has no option {unknown[0]!r}; allowed: {', '.join(allowed)}"
        )
    if "schedule" in options:
        options["schedule"] = _schedule_from_config(options["schedule"])
    optimizer: Optimizer = cls(**options)
    return optimizer


def __dir__() -> list[str]:
    """The public API only (``__all__``), not the submodules or helpers."""
    return sorted(__all__)
