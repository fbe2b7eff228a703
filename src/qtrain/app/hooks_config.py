"""The step hooks a config asks for (``train/step_hooks.py``), built for one run.

Each operations section of a config (backend fallback, drift canary, calibration freshness,
validation) becomes a hook here; the runner passes them to ``fit``. They run before each
step in this order:

1. ``fallback:`` — on a resumed run, back to the backend the run had switched to;
2. ``drift:`` — the canary (its ``fallback`` policy may switch backends here);
3. ``calibration:`` — the age check, on the backend the step will really run on (after a
   switch by either hook above);
4. ``validation:`` — evaluated after the step (``after_step``).
"""

from __future__ import annotations

from qtrain.app.build import Prepared
from qtrain.app.drift_config import drift_hook
from qtrain.app.operations_config import operations_hooks
from qtrain.exec.executor import Executor
from qtrain.train.fallback import BackendFallback
from qtrain.train.step_hooks import StepHook

__all__ = ["config_hooks"]


def config_hooks(prepared: Prepared, executor: Executor) -> list[StepHook]:
    """The hooks of ``prepared.config``, in the order they run before each step."""
    operations = operations_hooks(prepared, executor)  # fallback and calibration, if any
    fallback = [h for h in operations if isinstance(h, BackendFallback)]
    hooks: list[StepHook] = list(fallback)
    if prepared.config.drift is not None:  # it may need the fallback hook
        hooks.append(drift_hook(prepared.config.drift, hooks))
    hooks += [h for h in operations if not isinstance(h, BackendFallback)]
    if prepared.validation is not None:  # validation: (validation_config.py), built by prepare
        hooks.append(prepared.validation)
    return hooks
