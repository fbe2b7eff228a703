"""The step hooks a config asks for (``train/step_hooks.py``), built for one run.

Each operations section of a config (drift canary, backend fallback, calibration freshness,
validation) adds its hook here; the runner passes them to ``fit``.
"""

from __future__ import annotations

from qtrain.app.build import Prepared
from qtrain.app.drift_config import drift_hook
from qtrain.app.operations_config import operations_hooks
from qtrain.exec.executor import Executor
from qtrain.train.step_hooks import StepHook

__all__ = ["config_hooks"]


def config_hooks(prepared: Prepared, executor: Executor) -> list[StepHook]:
    """The hooks of ``prepared.config``, in the order they run before each step."""
    hooks: list[StepHook] = operations_hooks(prepared, executor)  # fallback, calibration: first
    drift = prepared.config.drift  # drift: (drift_config.py), built last: it may need fallback
    if prepared.validation is not None:  # validation: (validation_config.py), built by prepare
        hooks.append(prepared.validation)
    del prepared, executor  # each section below reads them
    if drift is not None:
        hooks.append(drift_hook(drift, hooks))
    return hooks
