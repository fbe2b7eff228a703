"""The step hooks a config asks for (``train/step_hooks.py``), built for one run.

Each operations section of a config (drift canary, backend fallback, calibration freshness,
validation) adds its hook here; the runner passes them to ``fit``.
"""

from __future__ import annotations

from qtrain.app.build import Prepared
from qtrain.exec.executor import Executor
from qtrain.train.step_hooks import StepHook

__all__ = ["config_hooks"]


def config_hooks(prepared: Prepared, executor: Executor) -> list[StepHook]:
    """The hooks of ``prepared.config``, in the order they run before each step."""
    hooks: list[StepHook] = []
    del prepared, executor  # each section below reads them
    return hooks
