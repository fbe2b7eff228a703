"""What a run carries from step to step, and what stays fixed for it.

:class:`RunState` is what a checkpoint holds, plus the history (which ``metrics.jsonl``
holds, and a resume reads back from it); :class:`RunSettings` is everything that
determines the run's numbers, and its hash is what a checkpoint is checked against on resume
(budgets and stop rules are not part of it, so a finished run can be continued with a larger
budget).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.diagnostics.monitor import GradientMonitor
from qtrain.errors import CheckpointError, CheckpointMismatchError, ConfigError
from qtrain.grad.shots import ShotPolicy
from qtrain.optim.base import Optimizer, OptimizerState, Request
from qtrain.optim.rosalin import Rosalin
from qtrain.train.checkpoint import Checkpoint, load_checkpoint
from qtrain.train.history import vouched_history
from qtrain.train.objective import Objective
from qtrain.train.records import StepRecord
from qtrain.train.rundir import RunDir
from qtrain.train.shot_split import as_policy
from qtrain.train.stopping import Budget, StopRules

__all__ = [
    "RunSettings",
    "RunState",
    "as_policy",
    "checked_optimizer",
    "existing_checkpoint",
    "measurement",
    "refuse_changed_settings",
    "refuse_missing_run",
    "restored_state",
    "settings_changes",
]


@dataclass
class RunState:
    """What changes from step to step; a checkpoint is this without the history."""

    step: int
    theta: NDArray[np.float64]
    optimizer_state: OptimizerState
    rng: np.random.Generator
    shots_total: int
    elapsed: float
    history: list[StepRecord]
    monitor_state: dict[str, Any] | None = None
    cost_total: float = 0.0  # money spent under the run's pricing table
    hook_states: dict[str, Any] = field(default_factory=dict)  # by step hook name

    @staticmethod
    def fresh(
        theta: NDArray[np.float64],
        optimizer: Optimizer,
        seed: int,
        monitor: GradientMonitor | None = None,
    ) -> RunState:
        """Step 0 at ``theta``, the loop's generator seeded with ``seed``."""
        rng = np.random.Generator(np.random.PCG64(seed))
        watch = None if monitor is None else monitor.init(theta.size)
        return RunState(0, theta.copy(), optimizer.init(theta), rng, 0, 0.0, [], watch)

    @staticmethod
    def restore(checkpoint: Checkpoint, history: Sequence[StepRecord] = ()) -> RunState:
        """Where ``checkpoint`` left off, generator state included.

        ``history`` is the run's records so far (read back from ``metrics.jsonl``: the
        checkpoint does not hold them).
        """
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = checkpoint.rng_state
        return RunState(
            checkpoint.step,
            checkpoint.theta.copy(),
            checkpoint.optimizer_state,
            rng,
            checkpoint.shots_total,
            checkpoint.elapsed,
            list(history),
            checkpoint.monitor_state,
            checkpoint.cost_total,
            dict(checkpoint.hook_states),
        )

    def checkpoint(self, config_hash: str, seed: int, stopped_by: str | None) -> Checkpoint:
        """This state as a checkpoint: O(1) in the run's length (it vouches for the history)."""
        return Checkpoint(
            config_hash,
            seed,
            self.step,
            self.theta,
            self.optimizer_state,
            dict(self.rng.bit_generator.state),
            self.shots_total,
            self.elapsed,
            len(self.history),
            self.history[-1] if self.history else None,
            stopped_by,
            self.monitor_state,
            self.cost_total,
            dict(self.hook_states),
        )


@dataclass(frozen=True, eq=False)
class RunSettings:
    """Everything fixed for the run; its hash guards checkpoints against other configs."""

    objective: Objective
    optimizer: Optimizer
    method: str
    policy: ShotPolicy | None
    gradient_options: Mapping[str, Any]
    budget: Budget
    stop: StopRules
    seed: int
    theta0: NDArray[np.float64]
    monitor: GradientMonitor | None = None

    def describe(self) -> dict[str, Any]:
        """The JSON-ready settings that determine the numbers (budgets and stop rules do not).

        A monitor is part of them (it may change shots, freeze parameters or stop the run);
        without one the key is left out, so earlier runs keep their hashes.
        """
        described = {
            "objective": self.objective.fingerprint(),
            "n_params": self.objective.n_params,
            "theta0": [float(x) for x in self.theta0],
            "optimizer": self.optimizer.config(),
            "method": self.method,
            "shots": None if self.policy is None else asdict(self.policy),
            "gradient_options": dict(self.gradient_options),
            "seed": self.seed,
        }
        if self.monitor is not None:
            described["monitor"] = self.monitor.config()
        return described

    def config_hash(self) -> str:
        """SHA-256 of :meth:`describe`."""
        text = json.dumps(self.describe(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def measurement(
    request: Request,
    method: str,
    options: Mapping[str, Any],
    policy: ShotPolicy | None,
) -> tuple[str, dict[str, Any], ShotPolicy | None]:
    """``(method, options, shots)`` of a step: the optimizer's request over the run's settings.

    An optimizer that names a method (SPSA) brings its own options; one that chooses shots
    per component (Rosalin) replaces the run's shot policy.
    """
    if request.shots_per_component is not None:
        policy = ShotPolicy.components(request.shots_per_component)
    if request.method is not None:
        return request.method, dict(request.options), policy
    return method, dict(options), policy


def checked_optimizer(optimizer: object, objective: Objective) -> Optimizer:
    """The optimizer, with a shot-adaptive one's Lipschitz constant filled in."""
    if not isinstance(optimizer, Optimizer):
        raise ConfigError(
            f"optimizer must implement init/ask/update (qt.optim), got {type(optimizer).__name__}"
        )
    if isinstance(optimizer, Rosalin) and optimizer.lipschitz is None:
        bound = objective.lipschitz_bound()
        if not math.isfinite(bound):
            raise ConfigError(
                f"the {objective.loss_fn.name!r} loss has no finite Lipschitz bound; give "
                "Rosalin(lipschitz=...) explicitly"
            )
        return replace(optimizer, lipschitz=bound)
    return optimizer


def refuse_missing_run(run_dir: Path | None, resume: bool | str) -> None:
    """Before anything is created: ``resume=True`` needs a run to continue.

    A missing or mistyped ``run_dir`` would otherwise start a fresh run under the wrong name
    without a word. ``resume="if-exists"`` allows it (continue if there is a run, else start).
    A folder whose run was killed before its first checkpoint still counts as a run (its
    ``run.json`` is there) and starts again.

    Raises:
        ConfigError: ``resume`` is not ``True``, ``False`` or ``"if-exists"``.
        CheckpointError: ``resume=True`` and ``run_dir`` holds no run.
    """
    if not isinstance(resume, bool) and resume != "if-exists":
        raise ConfigError(f"resume must be True, False or 'if-exists', got {resume!r}")
    if resume is not True or run_dir is None:
        return
    folder = RunDir(Path(run_dir))
    if not (folder.checkpoint.exists() or folder.run_info.exists()):
        what = "does not exist" if not Path(run_dir).exists() else "holds no run"
        raise CheckpointError(
            f"cannot resume: {run_dir} {what} (no checkpoint.json or run.json); check the "
            "path, or pass resume='if-exists' to start a run there when there is none"
        )


def existing_checkpoint(directory: RunDir | None, resume: bool | str) -> Checkpoint | None:
    """The checkpoint to resume from; refuses to overwrite a run that was not resumed."""
    if directory is None:
        if resume:
            raise ConfigError(f"resume={resume!r} needs the run_dir= of the run to continue")
        return None
    if not directory.checkpoint.exists():
        return None  # a run killed before its first step finished starts again
    if not resume:
        raise CheckpointError(
            f"{directory.path} already holds a run (checkpoint at step "
            f"{load_checkpoint(directory.checkpoint).step}); pass resume=True to continue it, "
            "or choose a new run_dir"
        )
    return load_checkpoint(directory.checkpoint)


def restored_state(checkpoint: Checkpoint, directory: RunDir) -> RunState:
    """The state ``checkpoint`` left, with the history it vouches for from ``metrics.jsonl``.

    Lines of ``metrics.jsonl`` after the vouched records are dropped (with a warning).

    Raises:
        CorruptFileError: the vouched records are missing, damaged or not the checkpoint's.
    """
    history = vouched_history(directory.metrics, checkpoint.records, checkpoint.last_record)
    return RunState.restore(checkpoint, history)


_ABSENT = object()


def _shown(value: object) -> str:
    """A settings value in a message: short, JSON-like, long hashes and lists cut."""
    if value is _ABSENT or value is None:
        return "none"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return f"{value[:12]}…"  # a fingerprint
    return text if len(text) <= 40 else f"{text[:36]}…"


def _differences(old: object, new: object, key: str, out: list[tuple[str, object, object]]) -> None:
    if old is None and isinstance(new, Mapping):
        old = dict.fromkeys(new)  # a policy given where there was none: key by key
    if new is None and isinstance(old, Mapping):
        new = dict.fromkeys(old)
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for name in [*old, *(k for k in new if k not in old)]:
            inner = f"{key}.{name}" if key else str(name)
            _differences(old.get(name, _ABSENT), new.get(name, _ABSENT), inner, out)
    elif old != new:
        out.append((key, old, new))


def settings_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], *, names: Mapping[str, str] | None = None
) -> list[str]:
    """What differs between two :meth:`RunSettings.describe` dicts, one ``key old → new`` each.

    ``names`` renames keys (the longest matching prefix): a config's ``gradient.method``
    for ``fit``'s ``method``.

    >>> settings_changes({"optimizer": {"name": "adam", "learning_rate": 0.05}, "seed": 1},
    ...                  {"optimizer": {"name": "adam", "learning_rate": 0.07}, "seed": 1})
    ['optimizer.learning_rate 0.05 → 0.07']
    """
    normal = json.loads(json.dumps(new, default=str))  # as recorded: tuples are lists
    found: list[tuple[str, object, object]] = []
    _differences(old, normal, "", found)
    renames = dict(names or {})

    def renamed(key: str) -> str:
        prefixes = [p for p in renames if key == p or key.startswith(f"{p}.")]
        if not prefixes:
            return key
        prefix = max(prefixes, key=len)
        return renames[prefix] + key[len(prefix) :]

    return [f"{renamed(key)} {_shown(was)} → {_shown(now)}" for key, was, now in found]


def refuse_changed_settings(
    checkpoint: Checkpoint,
    settings: RunSettings,
    directory: RunDir,
    *,
    names: Mapping[str, str] | None = None,
) -> None:
    """Refuse to resume ``checkpoint`` with other settings, naming each that changed.

    The settings the checkpoint was written with are read from ``run.json`` (``fit`` records
    them there with their hash); without that record the message names the two hashes.

    Raises:
        CheckpointMismatchError: ``optimizer.learning_rate 0.05 → 0.07; ...``.
    """
    if settings.config_hash() == checkpoint.config_hash:
        return
    try:
        recorded = json.loads(directory.run_info.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = None
    changes: list[str] = []
    if isinstance(recorded, dict) and recorded.get("config_hash") == checkpoint.config_hash:
        if isinstance(recorded.get("settings"), dict):
            changes = settings_changes(recorded["settings"], settings.describe(), names=names)
    if not changes:
        checkpoint.check_config(settings.config_hash(), directory.checkpoint)
    raise CheckpointMismatchError(
        f"cannot resume {directory.path}: its checkpoint was written with other settings "
        f"({'; '.join(changes)}); resuming would mix two different runs. Restore the "
        "original values, or start a new run folder."
    )
