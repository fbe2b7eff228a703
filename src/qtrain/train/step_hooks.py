"""Step hooks: what a training session does around each step beside the optimizer's work.

Operations work — a drift canary, a backend fallback, a validation objective — runs between
steps on the run's own executor, is charged to the run's ledger and budget, and leaves its
mark in the step's :class:`~qtrain.train.records.StepRecord`. A hook is an object with:

* ``name``: its key in the checkpoint's ``hook_states`` (its state survives a resume);
* ``before_step(session) -> HookResult``: work before the step is planned (run a canary,
  check the calibration's age); it may ask the run to stop (``HookResult.stop``, a reason
  that becomes ``FitResult.stopped_by``), and it reports the shots and money it spent and
  fields for the step's record;
* ``after_step(session, record) -> StepRecord``: the record, completed (a validation loss),
  before the trackers see it;
* ``on_error(session, error) -> bool``: a step failed with ``error`` (a ``QtrainError``
  after the executor's retries); ``True`` if the hook changed something (switched to
  another backend) and the step should be tried again.

Work on the backend goes through ``session.run_extra(tasks, purpose=...)``: the session
prices it, refuses it (``None``) when the shots or money left cannot pay for it, runs it on
its executor and charges what it spent to the step (``train/step_money.py``) — one place
for every hook's spending. A hook that spent shots or money some other way reports them in
its ``HookResult``.

Hooks read and write their JSON state in ``session.state.hook_states[name]``; it is
checkpointed with the step. A hook may also have ``summary(session) -> dict``: entries for
the run's ``summary.json`` (``{"fallback": {...}}``), merged by the session when it finishes
(:func:`hook_summaries`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from qtrain.errors import QtrainError
from qtrain.exec.pricing import add_money
from qtrain.train.records import StepRecord

if TYPE_CHECKING:
    from qtrain.train.session import Session

__all__ = ["HookResult", "StepHook", "before_steps", "hook_summaries", "merged"]


@dataclass(frozen=True)
class HookResult:
    """What a hook's ``before_step`` did.

    Attributes:
        stop: a reason to end the run before this step (``None``: go on).
        shots: shots it spent outside ``session.run_extra`` (charged to the step, or to
            the ledger if the step never runs); what ``run_extra`` ran is charged there.
        cost: money it spent so, under the run's pricing table (added exactly:
            ``exec.pricing.add_money``).
        fields: ``StepRecord`` fields it fills (``canary``, ``calibration_age_s``, ...).
    """

    stop: str | None = None
    shots: int = 0
    cost: float = 0.0
    fields: dict[str, Any] = field(default_factory=dict)


class StepHook(Protocol):
    """Work a session does around each step (module docstring)."""

    name: str

    def before_step(self, session: Session) -> HookResult:
        """Before the step is planned; may stop the run."""

    def after_step(self, session: Session, record: StepRecord) -> StepRecord:
        """The step's record, completed, before trackers see it."""

    def on_error(self, session: Session, error: QtrainError) -> bool:
        """``True``: the hook mended the cause of ``error``; try the step again."""


def merged(results: list[HookResult]) -> HookResult:
    """One result for several hooks: the first stop, summed shots and cost, all fields.

    Money adds as decimals (``add_money``): ``0.1 + 0.2`` is ``0.3``.
    """
    stop = next((r.stop for r in results if r.stop is not None), None)
    fields: dict[str, Any] = {}
    cost = 0.0
    for result in results:
        fields.update(result.fields)
        cost = add_money(cost, result.cost)
    return HookResult(stop, sum(r.shots for r in results), cost, fields)


def before_steps(hooks: list[StepHook], session: Session) -> HookResult:
    """Each hook's ``before_step`` in order, up to the first that stops the run; merged.

    A hook after a stop is not asked. The session's order is fallback, drift, calibration,
    validation: a drift canary runs (and is charged) before a stale-calibration refusal.
    """
    results: list[HookResult] = []
    for hook in hooks:
        results.append(hook.before_step(session))
        if results[-1].stop is not None:
            break
    return merged(results)


def hook_summaries(hooks: list[StepHook], session: Session) -> dict[str, Any]:
    """The summary entries of the hooks that have a ``summary`` method, in hook order."""
    entries: dict[str, Any] = {}
    for hook in hooks:
        summary = getattr(hook, "summary", None)
        if callable(summary):
            entries.update(summary(session))
    return entries
