import math

import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import PassError
from qtrain.passes.core import Pipeline, is_transform
from qtrain.passes.folding import (
    FOLDING_METHODS,
    Folding,
    achieved_factor,
    fold,
    fold_global,
    fold_local,
)
from qtrain.testing.reference import reference_matrix
from qtrain.testing.reference_noise import random_circuit, random_observable

GLOBAL_FACTORS = (1, 3, 5)
LOCAL_FACTORS = (1, 1.5, 2.2, 3, 4.6)
CASES = [(n, seed) for n in (1, 2, 3, 4) for seed in range(3)]


def case(n_qubits, seed, n_ops=7):
    """A random circuit over every gate family (tied and scaled θ), its θ and an observable."""
    rng = np.random.default_rng(1000 * n_qubits + seed)
    circuit = random_circuit(rng, n_qubits, n_ops, n_params=3)
    theta = rng.uniform(-np.pi, np.pi, size=circuit.n_params)
    return circuit, theta, random_observable(rng, n_qubits)


def expected_local_length(d, factor):
    """``d + 2·(k·d + round(frac·d))``, written out independently of the module."""
    k = int((factor - 1) // 2)
    return d + 2 * (k * d + round(((factor - 1) / 2 - k) * d))


def distinct(n_ops, n_qubits=3):
    """A circuit whose ops and their inverses are all different (each reads its own θ)."""
    circuit = qt.Circuit(n_qubits)
    for j in range(n_ops):
        circuit = circuit.gate(("RX", "RY", "RZ")[j % 3], j % n_qubits, qt.P(j) + 0.1)
    return circuit


def folded_positions(circuit, folded):
    """How many extra times each op of a :func:`distinct` circuit was folded (checking layout)."""
    counts, at = [], 0
    for op, inverse in zip(circuit.ops, circuit.inverse().ops[::-1], strict=True):
        assert folded.ops[at] == op
        at, n = at + 1, 0
        while folded.ops[at : at + 2] == (inverse, op):
            at, n = at + 2, n + 1
        counts.append(n)
    assert at == len(folded.ops)
    return counts


TIED = (
    qt.Circuit(2)
    .ry(0, 2 * qt.P(0) + 0.3)
    .s(1)
    .crx(0, 1, qt.P(1) - 0.5 * qt.P(0))
    .t(0)
    .u3(1, qt.P(1), -qt.P(0), 0.7)
    .sx(0)
    .rzz(0, 1, 3 * qt.P(1))
    .iswap(0, 1)
    .phase(1, qt.P(0) + qt.P(1))
)


@pytest.mark.parametrize("factor", GLOBAL_FACTORS)
@pytest.mark.parametrize(("n_qubits", "seed"), CASES)
def test_fold_global_keeps_the_unitary(n_qubits, seed, factor):
    circuit, theta, _ = case(n_qubits, seed)
    folded = fold_global(circuit, factor)
    np.testing.assert_allclose(
        reference_matrix(folded, theta), reference_matrix(circuit, theta), rtol=0, atol=1e-10
    )


@pytest.mark.parametrize("factor", LOCAL_FACTORS)
@pytest.mark.parametrize(("n_qubits", "seed"), CASES)
def test_fold_local_keeps_the_unitary(n_qubits, seed, factor):
    circuit, theta, _ = case(n_qubits, seed)
    folded = fold_local(circuit, factor, seed=seed)
    np.testing.assert_allclose(
        reference_matrix(folded, theta), reference_matrix(circuit, theta), rtol=0, atol=1e-10
    )


def test_fold_local_keeps_the_unitary_of_gates_whose_inverse_is_renamed():
    theta = np.array([0.4, -1.1])
    folded = fold_local(TIED, 3)
    assert {op.gate for op in folded.ops} >= {"Sdg", "Tdg", "SXdg", "ISWAPdg"}
    np.testing.assert_allclose(
        reference_matrix(folded, theta), reference_matrix(TIED, theta), rtol=0, atol=1e-10
    )


@pytest.mark.parametrize("factor", [*GLOBAL_FACTORS, 3.0, 7.0])
def test_fold_global_gate_count_is_factor_times_d(factor):
    circuit, _, _ = case(3, 0, n_ops=11)
    folded = fold_global(circuit, factor)
    assert len(folded) == factor * len(circuit)
    assert achieved_factor(circuit, folded) == factor
    assert folded.ops[: len(circuit)] == circuit.ops
    if factor >= 3:
        assert folded.ops[len(circuit) : 2 * len(circuit)] == circuit.inverse().ops


def test_fold_global_factor_one_is_the_circuit_itself():
    circuit, _, _ = case(2, 1)
    assert fold_global(circuit, 1) is circuit
    assert fold(circuit, 1.0) is circuit


@pytest.mark.parametrize("factor", [*LOCAL_FACTORS, 1.05, 2.0, 2.95, 6.3])
@pytest.mark.parametrize("d", [1, 4, 10, 13])
def test_fold_local_gate_count_matches_the_formula(d, factor):
    circuit, _, _ = case(2, d, n_ops=d)
    folded = fold_local(circuit, factor, seed=d)
    assert len(folded) == expected_local_length(d, factor)
    assert achieved_factor(circuit, folded) == pytest.approx(len(folded) / d)
    assert abs(achieved_factor(circuit, folded) - factor) <= 1 / d + 1e-12


def test_fold_local_known_counts_on_ten_ops():
    circuit = distinct(10)
    # 1.5: round(0.25 · 10) = round(2.5) = 2 (Python rounds half to even), so 14 ops, not 15.
    assert [len(fold_local(circuit, f)) for f in (1, 1.5, 2.2, 3, 4.6)] == [10, 14, 22, 30, 46]
    assert achieved_factor(circuit, fold_local(circuit, 2.2)) == pytest.approx(2.2)
    assert achieved_factor(circuit, fold_local(circuit, 4.6)) == pytest.approx(4.6)


def test_fold_local_folds_each_op_in_place():
    circuit = qt.Circuit(2).ry(0, qt.P(0)).s(1).cnot(0, 1).u3(1, qt.P(1), 0.2, -qt.P(0))
    assert fold_local(circuit, 3).ops == tuple(
        o
        for op, inv in zip(circuit.ops, circuit.inverse().ops[::-1], strict=True)
        for o in (op, inv, op)
    )
    counts = folded_positions(distinct(4), fold_local(distinct(4), 4.0, seed=3))
    assert sorted(counts) == [1, 1, 2, 2]


def test_achieved_factor_of_an_empty_circuit_is_one():
    empty = qt.Circuit(2)
    assert achieved_factor(empty, fold_local(empty, 2.5)) == 1.0
    assert len(fold_global(empty, 5)) == 0


@pytest.mark.parametrize("method", FOLDING_METHODS)
@pytest.mark.parametrize(("n_qubits", "seed"), CASES[::2])
def test_fold_keeps_the_parameters(n_qubits, seed, method):
    circuit, theta, obs = case(n_qubits, seed)
    folded = fold(circuit, 3 if method == "global" else 2.6, method=method, seed=seed)
    assert folded.n_params == circuit.n_params
    assert folded.param_indices == circuit.param_indices
    params = np.stack([theta, -theta, 0.5 * theta])
    tasks = [qt.Task(c, (obs,), params) for c in (circuit, folded)]
    plain, stretched = qt.LocalSimulator().run(tasks)
    np.testing.assert_allclose(stretched.values, plain.values, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("method", "factor"), [("global", 3), ("global", 5), ("local", 2.4)])
@pytest.mark.parametrize(("n_qubits", "seed"), [(1, 0), (2, 1), (3, 2), (4, 0)])
def test_fold_keeps_the_param_shift_gradient(n_qubits, seed, method, factor):
    circuit, theta, obs = case(n_qubits, seed, n_ops=5)
    folded = fold(circuit, factor, method=method, seed=seed)
    expected = qt.grad(circuit, obs, theta, method="param-shift").value
    got = qt.grad(folded, obs, theta, method="param-shift").value
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("method", "factor"), [("global", 3), ("local", 1.7), ("local", 3.4)])
def test_fold_keeps_the_param_shift_gradient_of_tied_parameters(method, factor):
    obs = qt.X(0) @ qt.Z(1) + 0.5 * qt.Y(1)
    theta = np.array([0.4, -1.1])
    folded = fold(TIED, factor, method=method, seed=5)
    expected = qt.grad(TIED, obs, theta, method="param-shift").value
    got = qt.grad(folded, obs, theta, method="param-shift").value
    assert np.all(np.abs(expected) > 1e-3)  # both parameters matter
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_fold_local_same_seed_same_circuit():
    circuit, _, _ = case(3, 0, n_ops=12)
    assert fold_local(circuit, 2.3, seed=11) == fold_local(circuit, 2.3, seed=11)
    from_generators = [fold_local(circuit, 2.3, seed=np.random.default_rng(11)) for _ in "ab"]
    assert from_generators[0] == from_generators[1] == fold_local(circuit, 2.3, seed=11)
    assert Folding(2.3, "local", 11)(circuit) == fold_local(circuit, 2.3, seed=11)


def test_fold_local_different_seeds_fold_different_subsets():
    circuit = distinct(12)
    subsets = {tuple(folded_positions(circuit, fold_local(circuit, 2.0, seed=s))) for s in range(6)}
    assert len(subsets) > 1
    assert all(sum(counts) == 6 for counts in subsets)  # round(0.5 · 12) ops folded once
    assert fold_local(circuit, 2.0, seed=0) != fold_local(circuit, 2.0, seed=1)


def test_fold_local_generator_seed_advances():
    circuit, _, _ = case(2, 2, n_ops=12)
    rng = np.random.default_rng(3)
    first, second = (fold_local(circuit, 1.5, seed=rng) for _ in range(2))
    assert first != second
    assert first == fold_local(circuit, 1.5, seed=3)


def test_folding_is_a_transform_pass_in_a_pipeline():
    circuit, _, _ = case(2, 0, n_ops=6)
    pipeline = Pipeline([Folding(3), Folding(1.5, method="local", seed=2)])
    compiled = pipeline.run(circuit)
    assert is_transform(Folding(3))
    assert compiled.circuit == fold_local(fold_global(circuit, 3), 1.5, seed=2)
    assert [(r.name, r.ops_before, r.ops_after) for r in compiled.records] == [
        ("fold", 6, 18),
        ("fold", 18, 26),  # round(0.25 · 18) = round(4.5) = 4 extra folds (half to even)
    ]
    assert compiled.records[0].fingerprint == Folding(3).fingerprint()


def test_folding_fingerprint_changes_with_options():
    fingerprints = {
        Folding(3).fingerprint(),
        Folding(5).fingerprint(),
        Folding(3, method="local").fingerprint(),
        Folding(3, method="local", seed=1).fingerprint(),
        Folding(2.5, method="local", seed=1).fingerprint(),
    }
    assert len(fingerprints) == 5
    assert Folding(3).fingerprint() == Folding(3.0).fingerprint()
    assert Folding(3) == Folding(3.0, "global", 0)
    assert Folding(2.5, "local", 4).describe() == {
        "name": "fold",
        "factor": 2.5,
        "method": "local",
        "seed": 4,
    }


BAD_FACTORS = [math.nan, math.inf, -math.inf, 0.5, 0, -3, "3", None, True, 1 + 2j]


@pytest.mark.parametrize("factor", BAD_FACTORS)
@pytest.mark.parametrize("method", FOLDING_METHODS)
def test_fold_rejects_a_bad_factor(factor, method):
    circuit = qt.Circuit(1).h(0)
    with pytest.raises(PassError, match="factor") as error:
        fold(circuit, factor, method=method)
    assert repr(factor) in str(error.value)
    with pytest.raises(PassError, match="factor"):
        Folding(factor, method=method)


@pytest.mark.parametrize("factor", [2, 2.5, 4.0, 3.0000001])
def test_fold_global_rejects_a_factor_that_is_not_odd(factor):
    circuit = qt.Circuit(1).h(0)
    for call in (lambda: fold_global(circuit, factor), lambda: Folding(factor)):
        with pytest.raises(PassError, match="odd integer") as error:
            call()
        assert repr(factor) in str(error.value)
        assert "method='local'" in str(error.value)
    assert len(fold_local(circuit, factor)) >= 1  # local folding takes it


@pytest.mark.parametrize("method", ["twirl", "GLOBAL", "", None, 3])
def test_fold_rejects_an_unknown_method(method):
    circuit = qt.Circuit(1).h(0)
    with pytest.raises(PassError, match="unknown folding method") as error:
        fold(circuit, 3, method=method)
    assert repr(method) in str(error.value)
    assert "'global'" in str(error.value) and "'local'" in str(error.value)
    with pytest.raises(PassError, match="unknown folding method"):
        Folding(3, method=method)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None, True, np.random.RandomState(0)])
def test_fold_rejects_a_bad_seed(seed):
    circuit = qt.Circuit(1).h(0)
    for method in FOLDING_METHODS:
        with pytest.raises(PassError, match="seed") as error:
            fold(circuit, 3, method=method, seed=seed)
        assert repr(seed) in str(error.value)
    with pytest.raises(PassError, match="seed"):
        Folding(1.5, method="local", seed=seed)


def test_folding_rejects_a_generator_seed():
    with pytest.raises(PassError, match="Generator"):
        Folding(1.5, method="local", seed=np.random.default_rng(0))
