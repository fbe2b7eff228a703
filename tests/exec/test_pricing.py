"""Pricing tables, exact money, billable tasks and the money allowance (exec.pricing/billing)."""

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qtrain as qt
from qtrain.backends.protocol import BackendLimits
from qtrain.errors import ConfigError
from qtrain.exec.billing import CostAllowanceError, MoneyAllowance, billable_tasks, quote
from qtrain.exec.pricing import Price, PricingTable, add_money, money_text, to_decimal

BRAKET = {"currency": "USD", "default": {"per_task": "0.30", "per_shot": "0.00035"}}


def test_decimal_rates_and_exact_sums():
    price = PricingTable.from_mapping(BRAKET).price("anything")
    assert price.per_shot == Decimal("0.00035")  # exact, not the float near it
    assert price.charge(tasks=3, shots=1000, seconds=0.0) == Decimal("1.25")
    total = 0.0
    for _ in range(10):
        total = add_money(total, 0.1)
    assert total == 1.0  # float addition would give 0.9999999999999999
    assert money_text(1.005, "USD") == "1.00 USD"  # half-even, on display only
    assert money_text(None, "USD") == "-"


def test_backends_by_name_wrapper_and_default():
    table = PricingTable.from_mapping(
        {
            "currency": "EUR",
            "backends": {"local-statevector": {"per_shot": 1}, "ibm_fez": {"per_second": 2}},
        }
    )
    faulty = qt.FaultyBackend(qt.LocalSimulator(), seed=0)
    assert table.price(faulty).per_shot == 1  # a wrapper is priced as its inner backend
    assert table.price("qiskit:ibm_fez").per_second == 2  # the device name alone matches
    with pytest.raises(ConfigError, match=r"no price for backend 'other'.*no default"):
        table.price("other")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"default": {"per_task": 1}}, "currency"),
        ({"currency": "USD"}, "give a default price or backends prices"),
        ({"currency": "USD", "default": {"per_tsk": 1}}, r"default\.per_tsk is not a rate"),
        ({"currency": "USD", "default": {"per_shot": -1}}, r"default\.per_shot must be"),
        ({"currency": "USD", "default": {"per_shot": "abc"}}, r"default\.per_shot must be"),
        ({"currency": "USD", "default": {"per_shot": True}}, r"default\.per_shot must be"),
        ({"currency": "USD", "default": {"per_shot": "nan"}}, r"default\.per_shot must be"),
        ({"currency": "USD", "backends": {"x": {"per_second": []}}}, r"backends\.x\.per_second"),
        ({"currency": "USD", "backends": {"x": 3}}, r"backends\.x must be a mapping"),
        ({"currency": "USD", "default": {}}, "default names no rate"),
        ({"currency": "USD", "default": {"per_shot": 1}, "extra": 1}, "unknown key 'extra'"),
    ],
)
def test_bad_tables_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        PricingTable.from_mapping(data)


def test_load_reads_yaml_and_refuses_bad_files(tmp_path):
    good = tmp_path / "p.yaml"
    good.write_text("currency: USD\ndefault: {per_shot: 0.00035}\n")
    table = PricingTable.load(good)
    assert table.source == str(good) and table.default == Price(per_shot=Decimal("0.00035"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("currency: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        PricingTable.load(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        PricingTable.load(tmp_path / "missing.yaml")


@pytest.mark.parametrize("name", ["braket.yaml", "ibm.yaml"])
def test_shipped_examples_load(name):
    table = PricingTable.load(f"examples/pricing/{name}")
    assert table.currency == "USD" and table.default is not None


def _tasks(shots=100):
    c = qt.ansatz.hardware_efficient(3, 1)
    return qt.gradient_tasks(c, [qt.Z(0) + qt.X(1)], np.zeros(c.n_params), shots=shots, seed=1)


def test_simulator_bills_one_task_per_task_and_per_row_chunk():
    (task,) = _tasks()
    assert billable_tasks(qt.LocalSimulator(), task) == 1
    limited = type("Limited", (), {"limits": BackendLimits(max_rows=5), "name": "l"})()
    assert billable_tasks(limited, task) == -(-task.params.shape[0] // 5)


def test_qiskit_bridge_bills_its_jobs():
    aer = pytest.importorskip("qiskit_aer")
    from qtrain.backends.qiskit import QiskitBackend  # noqa: PLC0415 - optional extra

    for circuits in (1, 3, 1000):
        backend = QiskitBackend(aer.AerSimulator(), max_circuits=circuits)
        (task,) = _tasks()
        jobs = len(backend._plan(task, backend.compiled(task)).packs)
        assert billable_tasks(backend, task) == jobs


def test_allowance_refuses_a_retry_past_the_money():
    (task,) = _tasks()
    backend = qt.LocalSimulator()
    price = Price(per_task=Decimal("1"), per_shot=Decimal("0.001"))
    shots = int(task.shot_matrix().sum())
    first = quote(price, backend, [task], shots=shots)
    chunk = type("C", (), {"task": task, "shots": task.shot_matrix(), "units": np.arange(3)})()
    roomy = MoneyAllowance(price, backend, first, shots=None, money=first.money * 2)
    roomy.refuse([chunk], spent=shots)  # one retry fits
    assert roomy.tasks == 2
    with pytest.raises(CostAllowanceError, match="past the") as raised:
        roomy.refuse([chunk], spent=2 * shots)  # a second does not
    assert raised.value.spent == 2 * shots
    assert roomy.charge(shots=2 * shots) == first.money * 2


@settings(max_examples=60, deadline=None)
@given(
    rates=st.lists(st.decimals(0, 5, places=6, allow_nan=False), min_size=3, max_size=3),
    steps=st.lists(
        st.tuples(st.integers(0, 20), st.integers(0, 10**6), st.floats(0, 1e3)), max_size=30
    ),
)
def test_total_is_the_exact_sum_of_steps(rates, steps):
    price = Price(*rates)
    total, charges = 0.0, []
    for tasks, shots, seconds in steps:
        charge = float(price.charge(tasks=tasks, shots=shots, seconds=seconds))
        charges.append(charge)
        total = add_money(total, charge)
    assert to_decimal(total) == sum((to_decimal(c) for c in charges), Decimal(0))
