"""Step records for tests of trackers, stop rules, checkpoints and reports.

>>> make_record(2, loss=-1.0).step, make_record(2, loss=-1.0).method
(2, 'adjoint')
"""

from __future__ import annotations

from typing import Any

from qtrain.train.records import StepRecord

__all__ = ["make_record"]

_DEFAULTS: dict[str, Any] = {
    "loss": 0.0,
    "loss_stderr": None,
    "grad_norm": 1.0,
    "grad_norm_stderr": None,
    "grad_snr": None,
    "learning_rate": 0.1,
    "shots": 0,
    "shots_total": 0,
    "circuits": 1,
    "retries": 0,
    "failures": 0,
    "cached": 0,
    "seconds": 0.0,
    "elapsed": 0.0,
    "method": "adjoint",
}


def make_record(step: int, **fields: Any) -> StepRecord:
    """A :class:`StepRecord` of an exact step, with ``fields`` overriding the defaults."""
    return StepRecord(step=step, **{**_DEFAULTS, **fields})
