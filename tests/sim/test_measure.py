import numpy as np
import pytest
from scipy import stats

import qtrain as qt
from qtrain.ir.pauli import PauliTerm
from qtrain.sim.measure import (
    GroupPlan,
    MeasurementPlan,
    exact_values,
    measurement_plan,
    parity_signs,
    sampled_values,
    walsh_hadamard,
)
from qtrain.sim.program import compile_program
from qtrain.sim.statevector import run_program
from qtrain.testing import reference_expval

H = qt.Observable.parse("0.5 Z0 Z1 - 1.2 X1 + 0.7 Y0 Y2 + 0.3 X0 Z2 + 0.25")
CIRCUIT = qt.ansatz.strongly_entangling(3, 2)
THETA = np.random.default_rng(3).uniform(0, 2 * np.pi, CIRCUIT.n_params)


def sample(states, plan, shots, entropy, row_keys=None):
    cells = np.full((states.shape[0], len(plan.groups)), shots, dtype=np.int64)
    return sampled_values(states, plan, cells, entropy, row_keys=row_keys)


def states_of(rows):
    return run_program(compile_program(CIRCUIT), np.tile(THETA, (rows, 1)))


def test_measure_exact_matches_dense_reference():
    plan = measurement_plan(H, 3)
    assert len(plan.groups) == len(H.groups()) and plan.constant == 0.25
    value = exact_values(states_of(1), plan)[0]
    assert value == pytest.approx(reference_expval(CIRCUIT, H, THETA), abs=1e-12)


def test_measure_sampling_errors_are_standard_normal():
    """(estimate - exact) / stderr over 2000 independent estimates is N(0, 1)."""
    exact = reference_expval(CIRCUIT, H, THETA)
    values, variances = sample(states_of(2000), measurement_plan(H, 3), 500, entropy=12345)
    z = (values - exact) / np.sqrt(variances)
    assert abs(z.mean()) < 4 / np.sqrt(z.size)  # mean 0 within 4 standard errors
    assert abs(z.std(ddof=1) - 1) < 4 / np.sqrt(2 * z.size)  # sd 1 within 4 standard errors
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_measure_interval_coverage_is_nominal():
    exact = reference_expval(CIRCUIT, H, THETA)
    values, variances = sample(states_of(2000), measurement_plan(H, 3), 400, entropy=99)
    covered = np.mean(np.abs(values - exact) <= 1.96 * np.sqrt(variances))
    assert abs(covered - 0.95) < 4 * np.sqrt(0.95 * 0.05 / 2000)


def test_measure_same_seed_same_numbers_and_chunk_independent():
    plan = measurement_plan(H, 3)
    states = states_of(6)
    whole = sample(states, plan, 100, entropy=7)
    again = sample(states, plan, 100, entropy=7)
    np.testing.assert_array_equal(whole[0], again[0])
    tail = sample(
        states[4:], plan, 100, entropy=7, row_keys=np.arange(4, 6, dtype=np.uint32)[:, None]
    )
    np.testing.assert_array_equal(whole[0][4:], tail[0])
    other = sample(states, plan, 100, entropy=8)
    assert not np.array_equal(whole[0], other[0])
    assert len(set(whole[0])) > 1  # rows are independent draws


def test_measure_per_group_shots_are_honoured():
    plan = measurement_plan(H, 3)
    cells = np.array([[50, 800, 100, 400][: len(plan.groups)]] * 600, dtype=np.int64)
    exact = reference_expval(CIRCUIT, H, THETA)
    values, variances = sampled_values(states_of(600), plan, cells, 3)
    z = (values - exact) / np.sqrt(variances)
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    assert abs(z.std(ddof=1) - 1) < 0.15


def test_measure_one_shot_has_undefined_error():
    values, variances = sample(states_of(2), measurement_plan(H, 3), 1, entropy=0)
    assert np.all(np.isfinite(values)) and np.all(np.isnan(variances))


def test_measure_eigenstate_reports_the_one_shot_off_floor():
    """An eigenstate's value is exact, its stderr small but not 0 (issue 13).

    50 agreeing shots cannot tell an eigenstate from a state with a rare other outcome, so
    the variance is the floor ``δ²/N²``: the variance of the mean had one of the ``N`` shots
    landed on the nearest other level. Z0 + 2 Z0Z1 has levels {−3, −1, 1, 3}; on |10⟩ all
    shots give −3, whose nearest other level is −1 (δ = 2).
    """
    c = qt.Circuit(2).x(0)
    plan = measurement_plan(qt.Z(0) + 2 * qt.Z(0) @ qt.Z(1), 2)
    values, variances = sample(run_program(compile_program(c), np.zeros((1, 0))), plan, 50, 1)
    assert values[0] == pytest.approx(-3.0)
    assert 0.0 < variances[0] == pytest.approx((2 / 50) ** 2, rel=1e-12)


def one_group_plan(eigenvalues, levels=None, level_of=None):
    group = GroupPlan((), np.asarray(eigenvalues, dtype=float), levels, level_of)
    return MeasurementPlan(int(np.log2(len(eigenvalues))), 0.0, (group,))


def basis_state(n_qubits, index, rows=1):
    states = np.zeros((rows, 1 << n_qubits), dtype=complex)
    states[:, index] = 1.0
    return states


def test_measure_two_level_groups_use_the_laplace_variance():
    """Δ²·p̃(1 − p̃)/N with p̃ = (k + 1)/(N + 2), k the shots at the upper level."""
    plan = measurement_plan(0.7 * qt.Z(0), 1)
    theta = np.full((400, 1), np.arccos(0.8))
    states = run_program(compile_program(qt.Circuit(1).ry(0, qt.P(0))), theta)
    for shots in (2, 7, 100):
        values, variances = sample(states, plan, shots, entropy=shots)
        k = np.rint((values / 0.7 + 1) / 2 * shots)  # the shots at +0.7
        tilde = (k + 1) / (shots + 2)
        np.testing.assert_allclose(variances, 1.4**2 * tilde * (1 - tilde) / shots, rtol=1e-12)
        assert np.all(variances <= 1.4**2 / (4 * shots) * (1 + 1e-12))
    # All shots agreeing: k = N, never a zero variance.
    values, variances = sample(basis_state(1, 0), plan, 50, entropy=0)
    assert values[0] == 0.7 and variances[0] == pytest.approx(1.4**2 * 51 / 52**2 / 50)


def test_measure_rounding_twins_and_degenerate_outcomes_are_one_level():
    """Outcomes 1e-15 apart are one level: a group of ±1 twins is a two-level group."""
    twins = [1.0, 1.0 + 1e-15, -1.0, -1.0 - 1e-15]
    states = np.full((1, 4), 0.5, dtype=complex)
    states[0, 2:] = 0.0  # half the shots on each twin of +1
    _, variances = sample(states, one_group_plan(twins), 40, entropy=5)
    assert variances[0] == pytest.approx(4 * (41 / 42) * (1 / 42) / 40, rel=1e-12)
    # Three levels with a degenerate one: all shots on the two outcomes of level 0.
    spread = [0.0, 0.0, 1.0, -2.0]
    states = np.zeros((1, 4), dtype=complex)
    states[0, :2] = np.sqrt(0.5)
    _, variances = sample(states, one_group_plan(spread), 30, entropy=5)
    assert variances[0] == pytest.approx((1 / 30) ** 2, rel=1e-12)  # nearest other level: 1
    # Level sampling of the same spectrum gives the same floor.
    levels, level_of = np.unique(spread, return_inverse=True)
    plan = one_group_plan(spread, levels, level_of)
    _, variances = sample(states, plan, 30, entropy=5)
    assert variances[0] == pytest.approx((1 / 30) ** 2, rel=1e-12)


def test_measure_constant_group_has_zero_variance_and_one_shot_is_nan():
    plan = one_group_plan([0.5, 0.5, 0.5, 0.5])
    values, variances = sample(basis_state(2, 1), plan, 20, entropy=1)
    assert values[0] == 0.5 and variances[0] == 0.0
    _, variances = sample(basis_state(2, 1), plan, 1, entropy=1)
    assert np.isnan(variances[0])
    _, variances = sample(basis_state(1, 0), measurement_plan(qt.Z(0), 1), 1, entropy=1)
    assert np.isnan(variances[0])


def test_measure_variances_never_exceed_the_validation_bound():
    """Every group's variance ≤ S²/(N − 1), S = Σ|c| over the group (exec/validation.py)."""
    observables = [
        qt.Z(0),
        qt.Observable.parse("0.3 Z0 + 0.5 Z0 Z1 - 0.2 Z1"),
        qt.Observable.parse("1.0 Z0 + 1.0 Z1 + 1.0 Z2"),
        qt.Observable.parse("2.0 Z0 + 0.01 Z1"),  # a near-eigenstate level with a tiny gap
    ]
    circuit = qt.ansatz.hardware_efficient(3, 1)
    theta = np.random.default_rng(8).uniform(0, 2 * np.pi, (200, circuit.n_params))
    theta[:50] = 0.0  # basis states: every shot agrees
    states = run_program(compile_program(circuit), theta)
    for observable in observables:
        plan = measurement_plan(observable, 3)
        (group,) = plan.groups
        reach = float(np.max(np.abs(group.eigenvalues)))  # = S for these Z-only groups
        for shots in (2, 3, 5, 50):
            _, variances = sample(states, plan, shots, entropy=shots)
            assert np.all(variances > 0)
            assert np.all(variances <= reach**2 / (shots - 1) * (1 + 1e-12))


def test_walsh_hadamard_matches_parity_tables():
    n, rng = 5, np.random.default_rng(4)
    coeffs = rng.normal(size=1 << n)
    direct = np.zeros(1 << n)
    for mask in range(1 << n):
        wires = tuple(w for w in range(n) if mask >> (n - 1 - w) & 1)
        direct += coeffs[mask] * parity_signs(wires, n)
    assert np.allclose(walsh_hadamard(coeffs), direct, atol=1e-12)


def test_measure_large_diagonal_groups_match_the_term_by_term_sum():
    """Groups with more than n terms take the Walsh–Hadamard path; same eigenvalues."""
    n, rng = 6, np.random.default_rng(5)
    terms = [
        (PauliTerm(tuple((w, "Z") for w in range(n) if m >> w & 1)), float(rng.normal()))
        for m in rng.choice(1 << n, size=20, replace=False)
    ]
    obs = qt.Observable.from_terms(terms)
    (group,) = measurement_plan(obs, n).groups
    assert len(obs.groups()[0].term_indices) > n  # the transform path
    direct = sum(c.real * parity_signs(t.wires, n) for t, c in obs.terms if t.factors)
    assert np.allclose(group.eigenvalues, direct, atol=1e-12)
    circuit = qt.ansatz.hardware_efficient(n, 2)
    theta = rng.uniform(0, 2 * np.pi, circuit.n_params)
    assert qt.expval(circuit, obs, theta) == pytest.approx(
        reference_expval(circuit, obs, theta), abs=1e-12
    )


def test_measure_level_sampling_draws_the_eigenvalue_distribution():
    # Σ Z_i on 6 qubits: 64 outcomes but 7 levels, so shots are drawn per level.
    circuit = qt.ansatz.hardware_efficient(6, 2)
    theta = np.random.default_rng(5).uniform(0, 2 * np.pi, circuit.n_params)
    observable = sum((qt.Z(i) for i in range(6)), start=qt.Z(0) * 0)
    plan = measurement_plan(observable, 6)
    (group,) = plan.groups
    assert group.levels is not None and group.levels.tolist() == [-6, -4, -2, 0, 2, 4, 6]
    states = run_program(compile_program(circuit), theta[None])
    probs = np.abs(states[0]) ** 2
    level_probs = np.bincount(group.level_of, weights=probs, minlength=7)
    # One draw of 200 000 shots: its mean and variance are those of the eigenvalue law.
    shots = 200_000
    values, variances = sampled_values(states, plan, np.array([[shots]]), 11)
    exact_mean = level_probs @ group.levels
    exact_var = level_probs @ group.levels**2 - exact_mean**2
    assert abs(values[0] - exact_mean) < 5 * np.sqrt(exact_var / shots)
    assert variances[0] * shots == pytest.approx(exact_var, rel=0.02)
    # And over many small draws, the estimates are unbiased with honest error bars.
    keys = np.arange(3000, dtype=np.uint32)[:, None]
    many = np.repeat(states, 3000, axis=0)
    est, var = sampled_values(many, plan, np.full((3000, 1), 20), 3, row_keys=keys)
    z = (est - exact_mean) / np.sqrt(var)
    assert abs(z.mean()) < 0.1 and 0.85 < z.std() < 1.2


def test_measure_groups_with_many_distinct_eigenvalues_sample_outcomes():
    rng = np.random.default_rng(0)
    observable = sum(
        (float(c) * qt.Z(i) for i, c in enumerate(rng.uniform(0.1, 1.0, 5))), start=qt.Z(0) * 0
    )
    (group,) = measurement_plan(observable, 5).groups
    assert group.levels is None and group.level_of is None  # 32 distinct values of 32
