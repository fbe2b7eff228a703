"""Money in the training loop: max_cost is hard, records add up, resume keeps the total."""

from decimal import Decimal

import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import ConfigError
from qtrain.exec.pricing import PricingTable, to_decimal
from qtrain.train.fallback import BackendFallback


def _objective():
    c = qt.ansatz.hardware_efficient(2, 1)
    return qt.Objective.single(c, qt.Z(0) + 0.5 * qt.X(1)), np.full(c.n_params, 0.3)


def _table(**rates):
    return PricingTable.from_mapping({"currency": "USD", "default": rates})


def _fit(pricing, max_cost, *, backend=None, shots=100, **kwargs):
    objective, theta0 = _objective()
    return qt.fit(
        objective,
        theta0,
        qt.optim.Adam(learning_rate=0.1),
        shots=shots,
        method="param-shift",  # exact values too: tasks, not adjoint passes
        seed=3,
        budget=qt.Budget(max_steps=40, max_cost=max_cost),
        pricing=pricing,
        backend=backend,
        **kwargs,
    )


def _exact_sum(result):
    return sum((to_decimal(r.cost) for r in result.history), Decimal(0))


@pytest.mark.parametrize(
    ("rates", "max_cost", "shots"),
    [
        ({"per_task": "0.30", "per_shot": "0.00035"}, 7.5, 100),
        ({"per_shot": "0.001"}, 3.3, 250),
        ({"per_task": "1.25"}, 9.99, None),  # exact values: tasks only
    ],
)
def test_a_run_under_max_cost_never_exceeds_it(rates, max_cost, shots):
    result = _fit(_table(**rates), max_cost, shots=shots)
    assert result.stopped_by == "max_cost"
    last = result.history[-1]
    assert to_decimal(last.cost_total) <= to_decimal(max_cost)
    assert to_decimal(last.cost_total) + to_decimal(last.cost) > to_decimal(max_cost)  # full use
    assert to_decimal(last.cost_total) == _exact_sum(result)
    assert result.summary["cost"]["total"] == last.cost_total


def test_per_second_pricing_uses_the_backends_estimate():
    backend = qt.LocalSimulator()
    result = _fit(_table(per_second="20"), 0.05, backend=backend)
    assert result.stopped_by == "max_cost" and result.steps >= 1
    assert to_decimal(result.history[-1].cost_total) <= Decimal("0.05")
    assert all(r.cost > 0 for r in result.history)


def test_retries_cannot_push_money_past_max_cost():
    """A failing backend's retries are paid for; those the money left cannot pay are not made."""
    for seed in range(4):
        faulty = qt.FaultyBackend(
            qt.LocalSimulator(), seed=seed, failure_rate=0.4, partial_rate=0.3
        )
        executor = qt.Executor(faulty, retry=qt.RetryPolicy(attempts=20, initial_s=0, jitter_s=0))
        objective, theta0 = _objective()
        result = qt.fit(
            objective,
            theta0,
            qt.optim.Adam(learning_rate=0.1),
            shots=100,
            seed=seed,
            budget=qt.Budget(max_steps=40, max_cost=4.0),
            pricing=_table(per_task="0.30", per_shot="0.00035"),
            executor=executor,
        )
        assert result.stopped_by == "max_cost"
        total = result.summary["cost"]["total"]  # refused steps' spending included
        assert to_decimal(total) <= Decimal("4.0")
        assert sum(r.retries for r in result.history) > 0  # the faults were real
        for record in result.history:  # one task of 900 shots; each retry sends it again
            expected = Decimal("0.30") * (1 + record.retries) + Decimal("0.00035") * 900
            assert record.shots == 900 and to_decimal(record.cost) == expected


def test_resume_keeps_cost_total_exactly(tmp_path):
    table = _table(per_task="0.10", per_shot="0.00013")
    objective, theta0 = _objective()
    common = dict(shots=100, seed=5, pricing=table, run_dir=tmp_path / "run")
    first = qt.fit(
        objective,
        theta0,
        qt.optim.Adam(learning_rate=0.1),
        budget=qt.Budget(max_steps=3),
        **common,
    )
    resumed = qt.fit(
        objective,
        theta0,
        qt.optim.Adam(learning_rate=0.1),
        budget=qt.Budget(max_steps=7),
        resume=True,
        **common,
    )
    straight = qt.fit(
        objective,
        theta0,
        qt.optim.Adam(learning_rate=0.1),
        budget=qt.Budget(max_steps=7),
        shots=100,
        seed=5,
        pricing=table,
        run_dir=tmp_path / "straight",
    )
    assert resumed.history[2].cost_total == first.history[-1].cost_total
    assert resumed.summary["cost"]["total"] == straight.summary["cost"]["total"]
    assert to_decimal(resumed.summary["cost"]["total"]) == _exact_sum(resumed)
    assert [r.cost_total for r in resumed.history] == [r.cost_total for r in straight.history]


def test_money_budget_without_a_table_is_refused_before_work(tmp_path):
    objective, theta0 = _objective()
    with pytest.raises(ConfigError, match=r"budget\.max_cost"):
        qt.fit(objective, theta0, qt.optim.Adam(), budget=qt.Budget(max_cost=1.0))
    with pytest.raises(ConfigError, match="no price for backend"):
        qt.fit(
            objective,
            theta0,
            qt.optim.Adam(),
            backend=qt.LocalSimulator(),
            pricing=PricingTable.from_mapping(
                {"currency": "USD", "backends": {"x": {"per_shot": 1}}}
            ),
        )
    with pytest.raises(ConfigError, match="max_cost must be a positive number"):
        qt.Budget(max_cost=-1)


def test_without_pricing_records_carry_no_money():
    objective, theta0 = _objective()
    result = qt.fit(objective, theta0, qt.optim.Adam(), budget=qt.Budget(max_steps=2), shots=50)
    assert all(r.cost is None and r.cost_total is None for r in result.history)
    assert "cost" not in result.summary


def test_a_fallback_the_table_cannot_price_is_refused_before_work():
    primary = qt.LocalSimulator()
    table = PricingTable.from_mapping(
        {"currency": "USD", "backends": {primary.name: {"per_shot": 0.001}}}
    )
    other = qt.FaultyBackend(qt.LocalSimulator(), seed=1)  # priced by its inner's name: fine
    _fit(table, 5.0, backend=primary, hooks=[BackendFallback([primary, other])])

    class Elsewhere(qt.LocalSimulator):
        name = "ionq-aria"

        def run(self, tasks):
            raise AssertionError("never reached: refused before work")

    with pytest.raises(ConfigError, match="ionq-aria"):
        _fit(table, 5.0, backend=primary, hooks=[BackendFallback([primary, Elsewhere()])])
