"""``Task.term_values``: every term's raw estimate from the shots behind the task's values."""

from dataclasses import replace

import numpy as np
import pytest

import qtrain as qt
from qtrain.ir.pauli import PauliTerm
from qtrain.noise import amplitude_damping, depolarizing, readout_error

N_QUBITS = 3
MISREAD = readout_error(0.04, 0.09)


def random_observable(seed, n_terms=7):
    """Random X/Y/Z words (several groups) with real coefficients of complex type, plus 0.4."""
    rng = np.random.default_rng(seed)
    terms = [(PauliTerm(()), complex(0.4, 0.0))]
    while len(terms) < n_terms + 1:
        letters = rng.choice(list("IXYZ"), size=N_QUBITS)
        factors = tuple((w, str(p)) for w, p in enumerate(letters) if p != "I")
        if factors:
            terms.append((PauliTerm(factors), complex(rng.normal(), 0.0)))
    return qt.Observable.from_terms(terms)


def circuit_and_rows(rows=4, seed=0):
    circuit = qt.ansatz.hardware_efficient(N_QUBITS, 2)
    theta = np.random.default_rng(seed).uniform(-np.pi, np.pi, size=(rows, circuit.n_params))
    return circuit, theta


def simulator(method, misread, trajectories=None):
    model = None
    if method != "statevector":
        model = qt.NoiseModel().after_all(depolarizing(0.06))
        model = model.after("CNOT", amplitude_damping(0.1))
    if misread:
        model = (model or qt.NoiseModel()).readout(MISREAD)
    if model is None:
        return qt.LocalSimulator()
    return qt.LocalSimulator(noise=model, method=method, trajectories=trajectories)


CASES = [
    pytest.param("statevector", None, id="statevector"),
    pytest.param("density_matrix", None, id="density-matrix"),
    pytest.param("trajectories", None, id="trajectories-per-shot"),
    pytest.param("trajectories", 20, id="trajectories-20"),
]


@pytest.mark.parametrize(("method", "trajectories"), CASES)
@pytest.mark.parametrize("misread", [False, True], ids=["clean", "misread"])
def test_term_values_sum_to_the_values_on_every_method(method, trajectories, misread):
    sim = simulator(method, misread, trajectories)
    circuit, theta = circuit_and_rows()
    observables = (random_observable(1), random_observable(2, n_terms=4), qt.X(0) @ qt.Z(2))
    shots = np.random.default_rng(4).integers(2, 120, size=(4, 1))
    task = qt.Task(circuit, observables, theta, shots, seed=9, term_values=True)
    result = sim.run([task])[0]
    assert result.metadata["method"] == method
    terms = result.metadata["term_values"]
    assert isinstance(terms, tuple) and len(terms) == len(observables)
    for o, (observable, table) in enumerate(zip(observables, terms, strict=True)):
        assert table.dtype == np.float64 and table.shape == (4, len(observable.terms))
        assert np.all(np.abs(table) <= 1.0)
        estimate = table @ np.array([c.real for c in observable.coefficients])
        np.testing.assert_allclose(estimate, result.values[:, o], rtol=0, atol=1e-9)
    assert np.all(terms[0][:, 0] == 1.0)  # the identity term
    assert len(observables[0].groups()) >= 3


@pytest.mark.parametrize(("method", "trajectories"), CASES)
def test_term_values_leave_values_and_variances_unchanged(method, trajectories):
    sim = simulator(method, True, trajectories)
    circuit, theta = circuit_and_rows()
    # On 3 qubits a group samples by level when it has at most 2 eigenvalues (one term).
    task = qt.Task(circuit, (random_observable(3), qt.Z(0) + qt.Z(1)), theta, 50, seed=2)
    plain, again = sim.run([task])[0], sim.run([task])[0]
    with_terms, repeated = sim.run([replace(task, term_values=True)] * 2)
    for other in (again, with_terms):
        np.testing.assert_array_equal(other.values, plain.values)
        np.testing.assert_array_equal(other.variances, plain.variances)
    assert "term_values" not in plain.metadata and "term_values" in with_terms.metadata
    for mine, theirs in zip(
        with_terms.metadata["term_values"], repeated.metadata["term_values"], strict=True
    ):
        np.testing.assert_array_equal(mine, theirs)  # reproducible from the seed


def test_exact_tasks_and_tasks_without_term_values_carry_no_key():
    circuit, theta = circuit_and_rows()
    exact = qt.Task(circuit, (random_observable(1),), theta, term_values=True)
    sampled = qt.Task(circuit, (random_observable(1),), theta, 20, seed=1)
    for sim in (simulator("statevector", False), simulator("density_matrix", True)):
        for task in (exact, sampled):
            assert "term_values" not in sim.run([task])[0].metadata
    assert qt.Task(circuit, (), theta).term_values is False


def single_words(observable):
    return tuple(
        qt.Observable.from_terms([(word, 1.0)]) for word, _ in observable.terms if word.factors
    )


@pytest.mark.parametrize(("method", "trajectories"), CASES)
def test_term_values_are_unbiased_raw_estimates(method, trajectories):
    """The mean over seeds of every term value is the exact (noisy, misread) expectation.

    The reference is the exact value of each word alone, with the same noise and readout
    errors (the density matrix for the noisy methods), within 5 standard errors.
    """
    sim = simulator(method, True, trajectories)
    circuit, theta = circuit_and_rows(rows=2, seed=5)
    observable = random_observable(6)
    words = single_words(observable)
    exact_sim = simulator("density_matrix" if method != "statevector" else method, True)
    exact = exact_sim.run([qt.Task(circuit, words, theta)])[0].values  # (2, T - 1)
    seeds = 120
    tasks = [qt.Task(circuit, (observable,), theta, 40, s, term_values=True) for s in range(seeds)]
    draws = np.stack([r.metadata["term_values"][0][:, 1:] for r in sim.run(tasks)])
    mean, spread = draws.mean(axis=0), draws.std(axis=0, ddof=1)
    z = (mean - exact) / np.maximum(spread / np.sqrt(seeds), 1e-12)
    assert np.all(np.abs(z) < 5), z
    assert np.all(spread > 0)  # misread words are never certain


def test_term_values_read_each_wire_in_the_simulators_bit_order():
    """X on wire 0 only: Z0 reads −1 and Z1 +1 on every shot, by level and by outcome."""
    for n_qubits, text in ((2, "Z0 + 2 Z1 + 0.5 Z0 Z1"), (4, "Z0 + Z1")):
        circuit = qt.Circuit(n_qubits).x(0)
        observable = qt.Observable.parse(text)
        task = qt.Task(circuit, (observable,), np.zeros((1, 0)), 64, seed=3, term_values=True)
        result = qt.LocalSimulator().run([task])[0]
        table = result.metadata["term_values"][0][0]
        expected = {"Z0": -1.0, "Z1": 1.0, "Z0 Z1": -1.0}
        for (word, _), value in zip(observable.terms, table, strict=True):
            assert value == expected[str(word)], (str(word), value)


def test_faulty_backend_passes_term_values_through():
    circuit, theta = circuit_and_rows()
    task = qt.Task(circuit, (random_observable(1),), theta, 30, seed=3, term_values=True)
    inner = qt.LocalSimulator().run([task])[0].metadata["term_values"]
    for rates in ({}, {"drift_per_call": 0.01}):
        result = qt.FaultyBackend(qt.LocalSimulator(), seed=0, **rates).run([task])[0]
        passed = result.metadata["term_values"]
        assert len(passed) == 1
        np.testing.assert_array_equal(passed[0], inner[0])
