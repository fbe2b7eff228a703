"""The one place that charges what a training step spends.

A step spends in three phases, each executor call opened as an :class:`Attempt`
(``train/step_money.py``): before its own tasks (``pending``: the hooks' work, a drift
canary), its own tasks, and after them (a validation). :class:`StepSpend` keeps the step's
spending so far, prices and runs a hook's extra work (:meth:`StepSpend.run_extra`, what
``Session.run_extra`` calls), and settles the step when it ends:

* it ran: its record carries everything it spent (:meth:`StepSpend.paid`), applied to the
  ledger with the record;
* it never ran (a budget or hook refused it, an interruption): what it spent before its own
  tasks is charged to the ledger (:meth:`StepSpend.charge_pending`): the hooks' state says
  their work is done, and a resumed run does not do it again. Its own tasks' rows wait in the
  store, read (and charged as if run) when the step runs again;
* it was interrupted (Ctrl-C) during a call: that call's wasted shots (rejected, late,
  overhead) and their money are charged too (:meth:`StepSpend.charge_interrupted`); its
  valid rows are in the store, charged when the resumed step reads them;
* a call failed (``QtrainError``, a retry the budget cannot pay for): the hooks' work, the
  failed call's spending and what finished before it in the step are charged to the ledger
  (:meth:`StepSpend.charge_failed`). The failed call's valid rows count only when nobody
  can read them again (a fallback moved the step to another backend, or no store keeps
  them); otherwise a resumed step reads and pays for them. ``last_failure`` says all the
  failed call spent (a fallback records it with its switch).

So ``state.shots_total`` (and ``cost_total``) is Σ ``record.shots`` (``cost``) plus what
steps that never ran spent, and nothing is counted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from qtrain.backends.protocol import Task
from qtrain.errors import ShotAllowanceError
from qtrain.exec.billing import Quote
from qtrain.exec.chunks import Allowance
from qtrain.exec.pricing import add_money
from qtrain.logs import emit
from qtrain.train.step_hooks import HookResult, merged
from qtrain.train.step_money import (
    Attempt,
    Charge,
    Extra,
    note_billing,
    observed_rate,
    planned_shots,
    price_step,
    step_allowance,
)

if TYPE_CHECKING:
    from qtrain.train.session import Session

__all__ = ["StepSpend"]

_LOG = logging.getLogger("qtrain.train")


def _added(spend: HookResult, charge: Charge) -> HookResult:
    """``spend`` with ``charge``'s shots and money added (exactly)."""
    return replace(spend, shots=spend.shots + charge.shots, cost=add_money(spend.cost, charge.cost))


class StepSpend:
    """What the step now running has spent (module docstring); one per session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.pending = HookResult()  # before the step's own tasks (its hooks)
        self.after: HookResult | None = None  # its own tasks and what came after (None: yet)
        self.attempt: Attempt | None = None  # the executor call now running
        self.last_failure = Charge()

    def reset(self) -> None:
        """A new step: nothing spent yet."""
        self.pending, self.after, self.attempt = HookResult(), None, None

    def spent(self) -> tuple[int, float]:
        """``(shots, money)`` the run has spent, what this step spent so far included."""
        state = self.session.state
        step = self.pending if self.after is None else merged([self.pending, self.after])
        return state.shots_total + step.shots, add_money(state.cost_total, step.cost)

    def quote(self, tasks: Sequence[Task]) -> tuple[int, int, Quote | None]:
        """``(nominal shots, overhead shots, price)`` of ``tasks`` on the run's backend."""
        session = self.session
        backend = session.executor.backend
        nominal, overhead = planned_shots(tasks, backend)
        bounded = session.settings.budget.max_cost is not None
        rate = observed_rate(session.state.hook_states)  # the most s/shot seen in the run
        shots = nominal + overhead
        price = price_step(session.pricing, backend, tasks, shots, rate=rate, bounded=bounded)
        return nominal, overhead, price

    def start(self, price: Quote | None, nominal: int) -> Allowance | None:
        """Open the attempt of one executor call; what it may spend (retries included)."""
        session = self.session
        backend, budget = session.executor.backend, session.settings.budget
        allowance = step_allowance(session.pricing, backend, price, budget, self.spent())
        self.attempt = Attempt(session.executor.counters, allowance, nominal)
        return allowance

    def finished(self, *, own: bool = False) -> Charge:
        """Close the call that returned its results and charge it to the step.

        ``own``: the step's own tasks (what follows is charged with them, to its record).
        """
        assert self.attempt is not None  # opened by start()
        charge, self.attempt = self.attempt.finished(), None
        if own:
            self.after = HookResult()
        self._book(charge)
        return charge

    def _book(self, charge: Charge) -> None:
        """Add ``charge`` to the step's spending so far (before or after its own tasks)."""
        note_billing(self.session.state.hook_states, charge)
        if self.after is None:
            self.pending = _added(self.pending, charge)
        else:
            self.after = _added(self.after, charge)

    def run_extra(self, tasks: Sequence[Task], *, purpose: str) -> Extra | None:
        """Run a hook's extra work on the run's executor, charged (``Session.run_extra``)."""
        nominal, overhead, price = self.quote(tasks)
        shots_total, cost_total = self.spent()
        money, shots = (None if price is None else price.money), nominal + overhead
        budget = self.session.settings.budget
        refusal = budget.affords(shots_total, cost_total, shots=shots, money=money)
        if refusal is not None:
            emit(
                _LOG,
                logging.INFO,
                "extra.refused",
                f"{purpose} not run: it costs {shots:,} shots"
                + ("" if money is None else f" ({money} in money)")
                + f", past the run's {refusal}",
                purpose=purpose,
                shots=shots,
                reason=refusal,
            )
            return None
        allowance = self.start(price, nominal)
        try:
            results = self.session.executor.run(tasks, max_shots=allowance)
        except ShotAllowanceError:  # a retry the budget cannot pay for: what it spent is spent
            assert self.attempt is not None  # opened above
            failure, self.attempt = self.attempt.failed(), None
            self._book(failure)
            return None
        charge = self.finished()
        return Extra(list(results), charge.shots, charge.cost)

    def charge_pending(self) -> None:
        """Charge what the step spent before its own tasks to the ledger (it never ran)."""
        state = self.session.state
        state.shots_total += self.pending.shots
        state.cost_total = add_money(state.cost_total, self.pending.cost)
        self.reset()

    def failure(self) -> Charge:
        """The step's call raised: all it spent (``last_failure``); the attempt stays open."""
        self.last_failure = Charge() if self.attempt is None else self.attempt.failed()
        return self.last_failure

    def charge_failed(self, *, include_valid: bool) -> None:
        """Charge a failed step: its hooks' work, the failed call, what finished before it.

        ``include_valid``: the failed call's valid rows too (nobody can read them again).
        """
        attempt, self.attempt = self.attempt, None
        failure = Charge() if attempt is None else attempt.failed(include_valid=include_valid)
        note_billing(self.session.state.hook_states, failure)
        self.pending = _added(merged([self.pending, self.after or HookResult()]), failure)
        self.charge_pending()

    def charge_interrupted(self, *, include_valid: bool) -> None:
        """Charge a step interrupted before it was applied (module docstring).

        What it spent before its own tasks, and what the call then running wasted (with
        ``include_valid``, its valid rows too: no store keeps them).
        """
        attempt, self.attempt = self.attempt, None
        if attempt is not None:
            wasted = attempt.failed(include_valid=include_valid)
            note_billing(self.session.state.hook_states, wasted)
            self.pending = _added(self.pending, wasted)
        self.charge_pending()

    def paid(self) -> dict[str, Any]:
        """``{shots, shots_total, cost, cost_total}`` of the step's record: all it spent.

        Without a pricing table, and with no money spent by hooks, the costs are ``None``.
        """
        spent = merged([self.pending, self.after or HookResult()])
        shots_total = self.session.state.shots_total + spent.shots
        paid: dict[str, Any] = {"shots": spent.shots, "shots_total": shots_total}
        if self.session.pricing is None and not spent.cost:
            return {**paid, "cost": None, "cost_total": None}
        cost_total = add_money(self.session.state.cost_total, spent.cost)
        return {**paid, "cost": spent.cost, "cost_total": cost_total}
