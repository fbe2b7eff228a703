"""A validation objective, evaluated every ``k`` steps beside training, with its own shot budget.

:class:`Validation` is a step hook (``train/step_hooks.py``, name ``"validation"``). At every
step whose index is a multiple of ``every`` — and at the last step the step budget allows —
it evaluates its objective (no gradient: one row per circuit) at **θ_step**, the parameters
the step measured at (``record.theta``), and fills ``StepRecord.validation`` with ``loss``,
``stderr`` (``None`` when exact), ``shots`` and the objective's metrics (a classifier's
``accuracy``). So a record's ``loss`` and ``validation["loss"]`` are at the same θ.

Shots. A sampled evaluation spends exactly ``shots``, split evenly over the objective's
(circuit, measurement group) cells; an exact run validates exactly (``shots=None``, 0 shots).
Validation shots are spent shots: they run through ``session.run_extra`` on the run's
executor (its store, its retries), priced and charged to the step's record
(``record.shots``, ``record.cost``), so the ledger and the run's ``max_shots`` and
``max_cost`` count them and ``shots_total == Σ record.shots`` holds. An evaluation the
run's shots or money left cannot pay for is skipped (event ``extra.refused``); one that
would pass the validation's own ``max_shots`` is not made, validation stops for the rest of
the run (event ``validation.stopped``, and ``"stopped": "max_shots"`` in its hook state) and
training goes on.

Seeds: an evaluation's sampling seed is derived from the run's seed and the step index, so a
resumed (or branched) run validates bit for bit as an unbroken one. The hook's JSON state,
``session.state.hook_states["validation"]``, is checkpointed with the step: ``shots`` spent,
``evaluations`` made, the ``last`` evaluation (``{"step", "shots"}``: a step retried after an
interruption is not charged twice) and ``stopped``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Task, child_seed
from qtrain.errors import ConfigError, QtrainError
from qtrain.logs import emit
from qtrain.train.evaluation import loss_variance
from qtrain.train.objective import Objective, group_terms
from qtrain.train.records import StepRecord
from qtrain.train.step_hooks import HookResult

if TYPE_CHECKING:
    from qtrain.train.session import Session

__all__ = ["Metrics", "Validation"]

_LOG = logging.getLogger("qtrain.train")
_STREAM = 0x56414C  # "VAL": the validation's sub-stream of the run's seed

Metrics = Callable[[NDArray[np.float64]], Mapping[str, float]]
"""``(T,)`` term values → extra numbers (``{"accuracy": 0.9}``); a ``"loss"`` key is ignored."""


def _split(shots: int, cells: int) -> list[int]:
    """``shots`` over ``cells`` as evenly as possible (the first ones get the remainder)."""
    base, extra = divmod(shots, cells)
    return [base + (1 if k < extra else 0) for k in range(cells)]


class Validation:
    """Evaluate ``objective`` every ``every`` steps at θ_step (module docstring).

    Args:
        objective: the validation objective (e.g. a classifier's held-out points); it must
            read the run's parameters (``n_params`` no larger than the run's).
        every: evaluate at steps ``0, every, 2·every, …`` and at the budget's last step.
        shots: shots per evaluation, split over the (circuit, group) cells (at least 2
            each); ``None``: exact values (for exact runs).
        max_shots: the validation's own total; ``None``: no limit but the run's.
        metrics: extra numbers from the term values (a classifier's accuracy).

    Raises:
        ConfigError: ``every`` below 1, ``shots`` too few for the cells, ``max_shots`` below 1.
    """

    name = "validation"

    def __init__(
        self,
        objective: Objective,
        *,
        every: int = 10,
        shots: int | None = None,
        max_shots: int | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        if not isinstance(objective, Objective):
            raise ConfigError(f"validation needs a qt.Objective, got {type(objective).__name__}")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ConfigError(f"validation every must be an int >= 1, got {every!r}")
        if max_shots is not None and (isinstance(max_shots, bool) or max_shots < 1):
            raise ConfigError(f"validation max_shots must be an int >= 1, got {max_shots!r}")
        self.objective, self.every, self.max_shots, self.metrics = (
            objective,
            every,
            max_shots,
            metrics,
        )
        self._groups = group_terms(objective.circuits)
        observables = objective.observables
        self._widths = [
            sum(len(observables[t].groups()) for t in terms) for _, terms in self._groups
        ]
        self.shots = shots
        if shots is not None:
            cells = sum(self._widths)
            if isinstance(shots, bool) or not isinstance(shots, int) or shots < 2 * cells:
                raise ConfigError(
                    f"validation shots must be an int of at least {2 * cells} (2 for each of "
                    f"the validation objective's {cells} measurement groups), got {shots!r}"
                )

    def due(self, step: int, max_steps: int) -> bool:
        """Whether step ``step`` is validated: a multiple of ``every``, or the last allowed."""
        return step % self.every == 0 or step == max_steps - 1

    def tasks(self, theta: NDArray[np.float64], seed: int) -> list[Task]:
        """One row per distinct circuit at ``theta``; sampled ones seeded from ``seed``."""
        cells = None if self.shots is None else iter(_split(self.shots, sum(self._widths)))
        tasks = []
        for index, ((circuit, terms), width) in enumerate(
            zip(self._groups, self._widths, strict=True)
        ):
            shots = None
            if cells is not None:
                shots = np.array([[next(cells) for _ in range(width)]], dtype=np.int64)
            observables = tuple(self.objective.observables[t] for t in terms)
            row = theta[None, : circuit.n_params]
            tasks.append(Task(circuit, observables, row, shots, child_seed(seed, index)))
        return tasks

    def assembled(self, results: list[Any], shots: int) -> dict[str, Any]:
        """``{"loss", "stderr", "shots", <metrics>}`` from the tasks' results."""
        terms = len(self.objective.circuits)
        values, variances = np.zeros(terms), np.zeros(terms)
        for (_, indices), result in zip(self._groups, results, strict=True):
            values[list(indices)] = result.values[0]
            if result.variances is not None:
                variances[list(indices)] = result.variances[0]
        loss_fn, targets = self.objective.loss_fn, self.objective.targets
        stderr = None
        if self.shots is not None:
            weights = loss_fn.weights(values, targets)
            curvature = loss_fn.second_derivatives(values, targets)
            stderr = float(math.sqrt(loss_variance(weights, curvature, variances)))
        out: dict[str, Any] = {"loss": loss_fn.value(values, targets), "stderr": stderr}
        out["shots"] = shots
        if self.metrics is not None:
            out.update({k: float(v) for k, v in self.metrics(values).items() if k != "loss"})
        return out

    def summary(self, session: Session) -> dict[str, Any]:
        """``summary.json``'s ``validation``: shots spent, evaluations, stop, the last one."""
        state = dict(_state(session.state.hook_states))
        last = next((r for r in reversed(session.state.history) if r.validation), None)
        return {
            "validation": {
                "shots": state["shots"],
                "evaluations": state["evaluations"],
                "stopped": state["stopped"],
                "last": None if last is None else {"step": last.step, **(last.validation or {})},
            }
        }

    def before_step(self, session: Session) -> HookResult:
        """Nothing before the step: validation measures θ_step after it (module docstring)."""
        del session
        return HookResult()

    def on_error(self, session: Session, error: QtrainError) -> bool:
        """Validation mends nothing."""
        del session, error
        return False

    def after_step(self, session: Session, record: StepRecord) -> StepRecord:
        """The record with this step's validation (and its shots charged), when due."""
        if not self.due(record.step, session.settings.budget.max_steps):
            return record
        state = _state(session.state.hook_states)
        last = state.get("last") or {}
        if last.get("step") == record.step:  # a retried step: undo its first attempt's charge
            state["shots"] -= int(last.get("shots", 0))
            state["evaluations"] -= 1
            state["last"] = None
        if state.get("stopped") is not None:
            return record
        theta = np.asarray(record.theta, dtype=np.float64)
        if theta.size == 0:
            theta = session.state.theta
        cost = self.shots or 0  # a sampled evaluation spends exactly its shots
        if self.max_shots is not None and state["shots"] + cost > self.max_shots:
            state["stopped"] = "max_shots"
            _stopped(record.step, state["shots"], cost, self.max_shots)
            return record
        seed = child_seed(child_seed(session.settings.seed, _STREAM), record.step)
        done = session.run_extra(self.tasks(theta, seed), purpose="validation")
        if done is None:  # the run's shots or money cannot pay for it (session.run_extra)
            return record
        state["shots"] += done.shots
        state["evaluations"] += 1
        state["last"] = {"step": record.step, "shots": done.shots}
        # the session charges done.shots (and its money) to the step's record
        return replace(record, validation=self.assembled(done.results, done.shots))


def _state(states: dict[str, Any]) -> dict[str, Any]:
    """The hook's JSON state in ``states`` (made on first use)."""
    state = states.setdefault(
        Validation.name, {"shots": 0, "evaluations": 0, "last": None, "stopped": None}
    )
    assert isinstance(state, dict)
    return state


def _stopped(step: int, spent: int, cost: int, limit: int) -> None:
    emit(
        _LOG,
        logging.WARNING,
        "validation.stopped",
        f"validation stopped at step {step}: an evaluation costs {cost:,} shots and "
        f"{spent:,} of its max_shots {limit:,} are spent; training goes on",
        step=step,
        spent=spent,
        cost=cost,
        max_shots=limit,
    )
