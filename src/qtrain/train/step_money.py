"""What a step's work costs: its quote before it runs, its allowance, and what it spent.

Every executor call a session makes — the step's own tasks, and the extra work its hooks ask
for (``Session.run_extra``: drift canaries, validation) — is paid for the same way:

* :func:`price_step` quotes the tasks under the run's pricing table (``exec.billing``);
* :func:`step_allowance` says what the call may spend, retries included (shots, or shots and
  money: ``exec.billing.MoneyAllowance``);
* an :class:`Attempt` reads the executor's counters when the call starts and says what it
  spent when it ends: :meth:`Attempt.finished` for a call that returned its results (its
  tasks' nominal shots, rows read from a store included, plus the rejected, late and
  overhead shots), :meth:`Attempt.failed` for one that raised or was interrupted (what the
  backend wasted since it started; its valid results too when nobody can read them again),
  each with its money under the price of the backend it ran on — seconds as the provider
  measured them, never capped (:func:`note_billing` keeps the run's most seconds per shot,
  which every later quote assumes at least, and the seconds charged past the quotes).

:func:`check_pricing` refuses, before any work, a pricing table that cannot price a backend,
and a money limit whose per-second rate has no bound on a step's seconds (``exec.billing``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qtrain.backends.protocol import Backend, Result, Task
from qtrain.errors import ConfigError
from qtrain.exec.billing import MoneyAllowance, Quote, has_seconds_bound, quote
from qtrain.exec.chunks import Allowance
from qtrain.exec.counters import ExecutorCounters, spent_shots
from qtrain.exec.dry_run import dry_run
from qtrain.exec.pricing import PricingTable, to_decimal
from qtrain.train.state import RunState
from qtrain.train.stopping import Budget

__all__ = [
    "Attempt",
    "Charge",
    "Extra",
    "check_pricing",
    "note_billing",
    "observed_rate",
    "over_run",
    "planned_shots",
    "price_step",
    "step_allowance",
]

_BILLING = "billing"  # hook_states key of the run's measured seconds (note_billing)


def planned_shots(tasks: Sequence[Task], backend: Backend) -> tuple[int, int]:
    """``(nominal, overhead)``: the shots of ``tasks``' distinct rows, and beside them.

    Overhead: what the backend will spend beside the tasks (a readout calibration still to
    measure).

    Nominal shots count rows a store already holds: a resumed step reads rows finished
    before the crash, but the run paid for them, so the ledger stays an uninterrupted run's.
    The budget refuses work that cannot pay the overhead too; the charge is what the
    executor then counts (``overhead_shots``).
    """
    if not tasks:
        return 0, 0
    nominal = dry_run(tasks, backend=backend).shots
    price = getattr(backend, "overhead", None)
    extra = int(getattr(price(tasks), "calibration_shots", 0)) if callable(price) else 0
    return nominal, extra


def price_step(
    pricing: PricingTable | None,
    backend: object,
    tasks: Sequence[Task],
    shots: int,
    *,
    rate: float = 0.0,
    bounded: bool = False,
) -> Quote | None:
    """The price of planned tasks (``None`` without a pricing table): how a session quotes.

    ``shots``: their shots, overhead included; ``rate``: the most seconds per shot the run
    has seen (:func:`observed_rate`; ``qtrain plan``: 0). The seconds are the larger of
    ``rate × shots`` and the backend's own estimate — with ``bounded`` (a money limit) its
    bound (``exec.billing.seconds_bound``). ``qtrain plan`` quotes with this function too.
    """
    if pricing is None:
        return None
    price = pricing.price(backend)
    seconds = rate * shots if rate > 0 else None
    return quote(price, backend, tasks, shots=shots, seconds=seconds, bounded=bounded)


def step_allowance(
    pricing: PricingTable | None,
    backend: object,
    first: Quote | None,
    budget: Budget,
    spent: tuple[int, float],
) -> Allowance | None:
    """What the executor may spend on a call (retries included): shots, or shots and money.

    ``spent``: the shots and money the run spent before the call (what the step spent so far
    included); ``first``: the call's price.
    """
    (shots_total, cost_total), limit = spent, budget.max_shots
    shots_left = None if limit is None else limit - shots_total
    if pricing is None or first is None:
        return shots_left
    price, money_left = pricing.price(backend), budget.money_left(cost_total)
    return MoneyAllowance(price, backend, first, shots=shots_left, money=money_left)


@dataclass(frozen=True)
class Charge:
    """What one executor call spent.

    Attributes:
        shots: shots, wasted and overhead included.
        cost: money under the backend's price (``None``: the run prices nothing).
        rate: seconds per shot the provider measured for what the call ran (0: none).
        over_s: measured seconds past the call's quote (``exec.billing``): charged.
    """

    shots: int = 0
    cost: float | None = None
    rate: float = 0.0
    over_s: float = 0.0


@dataclass(frozen=True)
class Extra:
    """Extra work a hook ran through ``Session.run_extra``, and what it spent."""

    results: list[Result]
    shots: int
    cost: float | None  # None: the run prices nothing


def note_billing(hook_states: dict[str, Any], charge: Charge) -> None:
    """Add a call's measured seconds to the run's (checkpointed) billing record.

    ``seconds_per_shot``: the most any call took (what later quotes assume at least);
    ``over_quote_seconds``: seconds charged past the quotes.
    """
    if charge.rate <= 0 and charge.over_s <= 0:
        return
    entry = hook_states.setdefault(_BILLING, {})
    entry["seconds_per_shot"] = max(float(entry.get("seconds_per_shot", 0.0)), charge.rate)
    over = float(entry.get("over_quote_seconds", 0.0)) + charge.over_s
    entry["over_quote_seconds"] = round(over, 6)


def observed_rate(hook_states: dict[str, Any]) -> float:
    """The most seconds per shot a call of the run took (0 when none was measured)."""
    return float(hook_states.get(_BILLING, {}).get("seconds_per_shot", 0.0))


def over_run(state: RunState, max_cost: float | None) -> dict[str, float]:
    """The summary's record of money past the quotes (``docs/guide/cost.md``, Seconds).

    ``over_quote_seconds``: provider seconds charged past the quotes; ``over_max_cost``: the
    money the ledger passed ``max_cost`` by (only a step whose seconds per shot exceed all
    the run had seen can do that). Empty when neither happened.
    """
    over: dict[str, float] = {}
    seconds = float(state.hook_states.get(_BILLING, {}).get("over_quote_seconds", 0.0))
    if seconds > 0:
        over["over_quote_seconds"] = seconds
    spent = to_decimal(state.cost_total)
    if max_cost is not None and spent > to_decimal(max_cost):
        over["over_max_cost"] = float(spent - to_decimal(max_cost))
    return over


class Attempt:
    """One executor call being paid for: the counters when it started, and its allowance.

    Args:
        counters: the executor's counters (read now, and again when the call ends).
        allowance: what the call may spend (a ``MoneyAllowance`` prices it).
        nominal: the shots of its tasks' distinct rows (what a call that returns is charged
            beside what it wasted, whether or not a store held some rows).
    """

    def __init__(
        self, counters: ExecutorCounters, allowance: Allowance | None, nominal: int
    ) -> None:
        self.counters, self.allowance, self.nominal = counters, allowance, nominal
        self._wasted, self._all = spent_shots(counters), spent_shots(counters, used=True)
        self._seconds = counters.execution_s

    def finished(self) -> Charge:
        """The call returned its results: nominal shots plus what it wasted, and their money."""
        return self._charge(self.nominal + spent_shots(self.counters) - self._wasted)

    def failed(self, *, include_valid: bool = True) -> Charge:
        """The call raised (or was interrupted): what the backend spent since it started.

        ``include_valid``: its valid rows' shots too — they serve nobody (another backend
        retries the step, or no store keeps them). Without it, only what it wasted
        (rejected, late, overhead) and that part of the money: the valid rows wait in the
        store, charged as nominal shots by the call that reads them.
        """
        ran = spent_shots(self.counters, used=True) - self._all
        if include_valid:
            return self._charge(ran)
        wasted = spent_shots(self.counters) - self._wasted
        if not isinstance(self.allowance, MoneyAllowance):
            return Charge(wasted)
        measured = self.counters.execution_s - self._seconds
        share = wasted / ran if ran > 0 else 0.0
        money = self.allowance.wasted(shots=wasted, share=share, measured_s=measured)
        return Charge(wasted, float(money), self._rate(measured, ran))

    @staticmethod
    def _rate(measured: float, ran: int) -> float:
        return measured / ran if measured > 0 and ran > 0 else 0.0

    def _charge(self, shots: int) -> Charge:
        if not isinstance(self.allowance, MoneyAllowance):
            return Charge(shots)
        measured = self.counters.execution_s - self._seconds
        ran = spent_shots(self.counters, used=True) - self._all
        money = self.allowance.charge(shots=shots, measured_s=measured)
        rate = self._rate(measured, ran)
        return Charge(shots, float(money), rate, self.allowance.over_quote(measured))


def check_pricing(budget: Budget, pricing: object, backend: object) -> PricingTable | None:
    """The run's pricing table, checked before any work.

    Raises:
        ConfigError: ``pricing`` is not a :class:`PricingTable`; ``budget.max_cost`` without
            a table; a table with no price for ``backend``; ``budget.max_cost`` with a
            per-second rate for a backend that bounds no step's seconds (neither
            ``estimate_seconds`` nor ``max_wait_s``).
    """
    if pricing is not None and not isinstance(pricing, PricingTable):
        raise ConfigError(f"pricing must be a qt.PricingTable, got {type(pricing).__name__}")
    if pricing is None:
        if budget.max_cost is not None:
            raise ConfigError(
                f"budget.max_cost={budget.max_cost} needs a pricing table (fit(pricing=...), "
                "or pricing: in the config) to price the steps in money"
            )
        return None
    if backend is None:
        return pricing  # the default simulator: priced, and it estimates its seconds
    price = pricing.price(backend)  # a backend the table cannot price is refused now
    if budget.max_cost is not None and price.per_second > 0 and not has_seconds_bound(backend):
        name = getattr(backend, "name", type(backend).__name__)
        raise ConfigError(
            f"budget.max_cost={budget.max_cost} cannot hold with the per-second rate "
            f"per_second={price.per_second} {pricing.currency} of backend {name!r}: it gives "
            "no estimate_seconds and no max_wait_s, so a step's seconds have no bound before "
            "it runs; give the backend a max_wait_s, or drop max_cost or the per-second rate"
        )
    return pricing
