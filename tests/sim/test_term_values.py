"""Per-term estimates from the shots of a measurement group (``sim.term_values``)."""

import numpy as np
import pytest

import qtrain as qt
from qtrain.noise import readout_error
from qtrain.sim.measure import measurement_plan, parity_signs, sampled_values
from qtrain.sim.readout_map import ReadoutMap
from qtrain.sim.term_values import TermTable, mask_signs, walsh_hadamard


def random_states(rng, rows, n_qubits):
    states = rng.normal(size=(rows, 1 << n_qubits)) + 1j * rng.normal(size=(rows, 1 << n_qubits))
    return states / np.linalg.norm(states, axis=1, keepdims=True)


def kinds(plan):
    """Which sampling paths the plan's groups take: level or outcome, table or transform."""
    return {(g.level_of is not None, g.term_table.signs is None) for g in plan.groups}


# On 4 qubits a group samples by level when it has at most 4 eigenvalues; "Z0 + Z1 + …" with
# 15 unit-coefficient Z words (every non-empty subset) has 2 levels and more terms than wires.
ALL_Z_WORDS = " + ".join(
    " ".join(f"Z{w}" for w in range(4) if mask >> w & 1) for mask in range(1, 16)
)
OBSERVABLES = {
    "mixed": "0.7 X0 X1 - 0.4 Y2 + 0.3 Z0 Z3 + 1.1 Z1 + 0.2 X3 Y0 - 0.25 Z0 Z1 Z2 Z3 + 0.5",
    "ambiguous levels": "Z0 + Z1 - 0.3 X2 X3",
    "generic": "0.3 Z0 + 0.55 Z1 - 0.71 Z2 + 0.13 Z3 + 0.9 Z0 Z1 - 1.2",
    "transform": ALL_Z_WORDS,
}


def test_mask_signs_use_the_simulators_bit_order():
    """Wire 0 is the most significant bit of an outcome, as in ``parity_signs``."""
    np.testing.assert_array_equal(mask_signs(0b10, 2), [1, 1, -1, -1])
    np.testing.assert_array_equal(mask_signs(0b10, 2), parity_signs((0,), 2))
    np.testing.assert_array_equal(mask_signs(0b01, 2), parity_signs((1,), 2))
    counts = np.array([0.0, 0.0, 5.0, 0.0])  # every shot read wire 0 as 1, wire 1 as 0
    np.testing.assert_array_equal(walsh_hadamard(counts)[[0b10, 0b01, 0b11]] / 5, [-1, 1, -1])


def test_term_table_counts_signatures_not_outcomes():
    """Unmeasured wires and symmetric words share a signature; one-term levels need no draw."""
    one = TermTable.of((0b1000,), 4, np.repeat([1, 0], 8))
    assert one.n_signatures == 2 and one.lone.all()
    plan = measurement_plan(qt.Observable.parse("Z0 + Z1"), 4)
    table = plan.groups[0].term_table
    assert table.n_signatures == 4 and table.lone.tolist() == [True, False, True]
    big = measurement_plan(qt.Observable.parse(ALL_Z_WORDS), 4).groups[0]
    assert big.level_of is not None and big.term_table.signs is None  # 15 terms > 4 wires


@pytest.mark.parametrize("name", sorted(OBSERVABLES))
@pytest.mark.parametrize("misread", [False, True])
def test_sampled_term_values_sum_to_the_value_and_leave_it_unchanged(name, misread):
    observable = qt.Observable.parse(OBSERVABLES[name])
    plan = measurement_plan(observable, 4)
    rng = np.random.default_rng(7)
    states = random_states(rng, 6, 4)
    shots = rng.integers(1, 400, size=(6, len(plan.groups)))
    shots[0] = 30_000  # level counts split level by level beyond 16 384 shots
    errors = {w: readout_error(0.03 + 0.01 * w, 0.08) for w in range(4)}
    readout = ReadoutMap.of(errors, 4) if misread else None
    terms = np.full((6, len(observable.terms)), np.nan)
    values, variances = sampled_values(states, plan, shots, 5, readout=readout, term_out=terms)
    plain = sampled_values(states, plan, shots, 5, readout=readout)
    np.testing.assert_array_equal(values, plain[0])  # bit for bit
    np.testing.assert_array_equal(variances, plain[1])
    coefficients = observable.real_coefficients()
    np.testing.assert_allclose(terms @ coefficients, values, rtol=0, atol=1e-9)
    assert np.all(np.abs(terms) <= 1.0) and not np.isnan(terms).any()
    if name == "mixed":
        assert np.all(terms[:, 0] == 1.0)  # the identity term
        assert kinds(plan) >= {(True, False), (False, False)}
    if name == "transform":
        assert kinds(plan) == {(True, True)}


def test_level_split_draws_the_joint_outcome_distribution():
    """One shot per row: the (Z0, Z1) readings follow the state's joint distribution.

    ``Z0 + Z1`` on 4 qubits samples by level, and its level 0 holds two signatures (01 and
    10): only a correct split of that level gives the right frequencies of each reading.
    """
    observable = qt.Observable.parse("Z0 + Z1")
    plan = measurement_plan(observable, 4)
    assert plan.groups[0].level_of is not None
    rows = 6000
    state = random_states(np.random.default_rng(3), 1, 4)
    probs = (np.abs(state[0]) ** 2).reshape(2, 2, 4).sum(axis=2)  # P(wire 0, wire 1)
    terms = np.empty((rows, 2))
    keys = np.arange(rows, dtype=np.uint32)[:, None]
    sampled_values(
        np.repeat(state, rows, axis=0),
        plan,
        np.ones((rows, 1), int),
        11,
        row_keys=keys,
        term_out=terms,
    )
    for b0 in (0, 1):
        for b1 in (0, 1):
            seen = np.mean((terms[:, 0] == 1 - 2 * b0) & (terms[:, 1] == 1 - 2 * b1))
            p = probs[b0, b1]
            assert abs(seen - p) < 5 * np.sqrt(p * (1 - p) / rows) + 1e-12, (b0, b1, seen, p)


def test_level_split_beyond_the_inverse_cdf_limit_is_unbiased():
    """200 000 shots split level by level (multinomial): each word within 5σ of exact."""
    observable = qt.Observable.parse("Z0 + Z1")
    plan = measurement_plan(observable, 4)
    assert plan.groups[0].level_of is not None and not plan.groups[0].term_table.lone.all()
    state = random_states(np.random.default_rng(8), 1, 4)
    shots = 200_000
    terms = np.empty((1, 2))
    sampled_values(state, plan, np.array([[shots]]), 4, term_out=terms)
    probs = np.abs(state[0]) ** 2
    for t, (word, _) in enumerate(observable.terms):
        exact = probs @ parity_signs(word.wires, 4)
        assert abs(terms[0, t] - exact) < 5 * np.sqrt((1 - exact**2) / shots), (str(word), exact)
