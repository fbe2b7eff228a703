import itertools

import numpy as np
import pytest

import qtrain as qt
from qtrain.problems.maxcut import (
    brute_force_max_cut,
    cost_hamiltonian,
    linear_ramp,
    maxcut,
    random_graph,
)
from qtrain.testing import reference_observable_matrix, reference_state

TRIANGLE = [(0, 1), (1, 2), (0, 2)]
SQUARE = [(0, 1), (1, 2), (2, 3), (3, 0)]


def _cut(bits, edges, weights):
    return sum(w for (i, j), w in zip(edges, weights, strict=True) if bits[i] != bits[j])


def test_maxcut_brute_force_on_known_graphs():
    assert brute_force_max_cut(3, TRIANGLE) == (
        2.0,
        ["001", "010", "011", "100", "101", "110"],
    )
    assert brute_force_max_cut(4, SQUARE) == (4.0, ["0101", "1010"])
    # Weighted triangle: every cut has two edges, so the best leaves out the lightest, (0, 1).
    best, optima = brute_force_max_cut(3, TRIANGLE, [1.0, 2.0, 5.0])
    assert best == 7.0 and optima == ["001", "110"]


def test_maxcut_brute_force_matches_a_plain_loop():
    edges = random_graph(7, 0.6, seed=11)
    weights = list(np.random.default_rng(2).uniform(0.5, 2.0, len(edges)))
    loop = max(_cut(bits, edges, weights) for bits in itertools.product((0, 1), repeat=7))
    assert brute_force_max_cut(7, edges, weights)[0] == pytest.approx(loop, abs=1e-12)


def test_maxcut_cost_hamiltonian_is_minus_the_cut_on_every_bit_string():
    edges, weights = [(0, 1), (1, 2), (0, 3)], [1.5, 0.5, 2.0]
    diagonal = np.diag(reference_observable_matrix(cost_hamiltonian(edges, weights), 4)).real
    for index, bits in enumerate(itertools.product((0, 1), repeat=4)):
        assert diagonal[index] == pytest.approx(-_cut(bits, edges, weights), abs=1e-12)


def test_maxcut_problem_exact_value_and_metadata():
    p = maxcut(TRIANGLE, weights=[1.0, 2.0, 5.0], layers=3)
    assert p.name == "maxcut" and p.loss == "expval" and p.exact_value == -7.0
    assert p.metadata["max_cut"] == 7.0 and p.metadata["optima"] == ["001", "110"]
    assert p.metadata["edges"] == [[0, 1], [1, 2], [0, 2]]
    assert p.metadata["random_graph"] is False
    assert p.n_params == p.circuits[0].n_params == 6
    np.testing.assert_allclose(p.theta0, linear_ramp(3))
    dense = reference_observable_matrix(p.observables[0], 3)
    assert np.linalg.eigvalsh(dense)[0] == pytest.approx(p.exact_value, abs=1e-12)


@pytest.mark.parametrize("edges", [TRIANGLE, SQUARE, [(0, 1), (1, 2), (2, 3), (0, 2), (1, 3)]])
def test_maxcut_qaoa_expectation_is_minus_expected_cut(edges):
    p = maxcut(edges, layers=2)
    n = p.metadata["n_nodes"]
    theta = np.array([0.4, -0.3, 0.9, 0.2])
    probabilities = np.abs(reference_state(p.circuits[0], theta)) ** 2
    cuts = [_cut(bits, edges, [1.0] * len(edges)) for bits in itertools.product((0, 1), repeat=n)]
    expected_cut = float(probabilities @ np.array(cuts))
    value = qt.expval(p.circuits[0], p.observables[0], theta)
    assert value == pytest.approx(-expected_cut, abs=1e-10)
    report = p.report(np.array([value]))
    assert report["expected_cut"] == pytest.approx(expected_cut, abs=1e-10)
    assert report["approximation_ratio"] == pytest.approx(expected_cut / -p.exact_value)


def test_maxcut_report_ratio_is_at_most_one_and_linear_ramp_beats_uniform():
    for seed in range(3):
        p = maxcut(seed=seed, layers=2)
        circuit, cost = p.circuits[0], p.observables[0]
        start = p.report(np.array([qt.expval(circuit, cost, p.theta0)]))
        uniform = p.report(np.array([qt.expval(circuit, cost, np.zeros(p.n_params))]))
        assert 0.0 < uniform["approximation_ratio"] < start["approximation_ratio"] <= 1.0
    assert p.report(np.array([p.exact_value]))["approximation_ratio"] == 1.0


def test_maxcut_random_graph_is_reproducible_with_the_seed():
    a, b = maxcut(seed=5), maxcut(seed=5)
    assert a.metadata == b.metadata
    assert a.circuits[0] == b.circuits[0] and a.observables[0] == b.observables[0]
    np.testing.assert_array_equal(a.theta0, b.theta0)
    graphs = {tuple(map(tuple, maxcut(seed=s).metadata["edges"])) for s in range(6)}
    assert len(graphs) > 1
    assert a.metadata["random_graph"] is True and a.metadata["n_nodes"] == 6
    assert a.circuits[0].n_qubits == 6


def test_maxcut_random_graph_has_at_least_one_edge():
    assert len(random_graph(2, 1e-12, seed=0)) == 1
    assert random_graph(5, 1.0, seed=0) == [(i, j) for i in range(5) for j in range(i + 1, 5)]
    assert maxcut(n_nodes=3, edge_probability=1e-12).exact_value == -1.0


def test_maxcut_isolated_nodes_keep_their_wires():
    p = maxcut([(0, 2)], layers=1)
    assert p.circuits[0].n_qubits == 3 and p.exact_value == -1.0


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"edges": [(0, 0)]}, "self-loop"),
        ({"edges": [(0, 1), (1, 0)]}, "twice"),
        ({"edges": [(0, -1)]}, "pair of node ints"),
        ({"edges": [(0, 1.5)]}, "pair of node ints"),
        ({"edges": [(0, 1, 2)]}, "pair of node ints"),
        ({"edges": []}, "non-empty"),
        ({"edges": [(0, 21)]}, "22 nodes"),
        ({"n_nodes": 21}, "n_nodes"),
        ({"n_nodes": 1}, "n_nodes"),
        ({"edge_probability": 0.0}, "edge_probability"),
        ({"edges": TRIANGLE, "weights": [1.0, 2.0]}, "3 numbers"),
        ({"edges": TRIANGLE, "weights": [1.0, -2.0, 1.0]}, "> 0"),
        ({"weights": [1.0]}, "explicit edge list"),
        ({"layers": 0}, "layers"),
        ({"seed": -3}, "seed"),
    ],
)
def test_maxcut_rejects_bad_input(kwargs, text):
    with pytest.raises(qt.ConfigError, match=text):
        maxcut(**kwargs)


def test_maxcut_brute_force_rejects_large_graphs():
    with pytest.raises(qt.ConfigError, match="<= 20"):
        brute_force_max_cut(21, [(0, 1)])
