import numpy as np
import pytest

import qtrain as qt
from qtrain.backends.local import shared_memory_budget
from qtrain.errors import ConfigError, StateTooLargeError


def test_local_simulator_is_a_backend_and_reports_shots():
    sim = qt.LocalSimulator()
    assert isinstance(sim, qt.Backend) and sim.name == "local-statevector"
    obs = qt.Observable.parse("Z0 Z1 + X0 + 0.5")  # two measurement groups
    task = qt.Task(qt.Circuit(2).h(0), (obs, qt.Z(1)), np.zeros((3, 0)), shots=10, seed=4)
    result = sim.run([task])[0]
    assert task.n_groups == 3 and result.shots == 10 * 3 * 3
    assert result.values.shape == (3, 2) and result.variances.shape == (3, 2)
    assert result.metadata["backend"] == "local-statevector"


def test_local_simulator_exact_task_has_no_variances():
    task = qt.Task(qt.Circuit(1).x(0), (qt.Z(0),), np.zeros((1, 0)))
    result = qt.LocalSimulator().run([task])[0]
    assert result.variances is None and result.shots == 0 and result.values[0, 0] == -1.0


def test_local_simulator_chunked_results_equal_unchunked():
    c = qt.ansatz.hardware_efficient(4, 2)
    theta = np.random.default_rng(0).normal(size=(9, c.n_params))
    task = qt.Task(c, (qt.X(0) @ qt.Y(2) + qt.Z(3), qt.Y(1)), theta, shots=64, seed=11)
    small = qt.LocalSimulator(memory_budget=2 * 16 * 4 * 16).run([task])[0]
    large = qt.LocalSimulator().run([task])[0]
    np.testing.assert_array_equal(small.values, large.values)
    np.testing.assert_array_equal(small.variances, large.variances)


def test_local_simulator_checks_every_task_before_running_any():
    ok = qt.Task(qt.Circuit(2).h(0), (qt.Z(0),), np.zeros((1, 0)))
    huge = qt.Task(qt.Circuit(30).h(0), (qt.Z(0),), np.zeros((1, 0)))
    with pytest.raises(StateTooLargeError, match="30-qubit"):
        qt.LocalSimulator(memory_budget=1 << 30).run([ok, huge])


@pytest.mark.parametrize("bad", [0, -5, 1.5, True])
def test_local_simulator_rejects_bad_budget(bad):
    with pytest.raises(ConfigError, match="memory_budget"):
        qt.LocalSimulator(memory_budget=bad)


def test_local_simulator_shots_per_row_and_group():
    obs = qt.Observable.parse("Z0 + X0")  # two groups
    rows = np.zeros((2, 0))
    shots = np.array([[3, 5], [7, 11]])
    result = qt.LocalSimulator().run([qt.Task(qt.Circuit(1).h(0), (obs,), rows, shots, 1)])[0]
    assert result.shots == 26
    per_row = qt.LocalSimulator().run([qt.Task(qt.Circuit(1).h(0), (obs,), rows, np.array([4, 6]))])
    assert per_row[0].shots == 20


@pytest.mark.parametrize(
    ("shots", "text"), [(np.array([[1, 2, 3]]), "do not fit"), (0, "at least 1")]
)
def test_local_simulator_rejects_bad_shot_shapes(shots, text):
    task = qt.Task(qt.Circuit(1).h(0), (qt.Z(0),), np.zeros((2, 0)), shots)
    with pytest.raises(qt.ShotsError, match=text):
        qt.LocalSimulator().run([task])


def test_local_simulator_row_numbers_depend_only_on_row_content():
    c = qt.ansatz.hardware_efficient(3, 1)
    rows = np.random.default_rng(5).normal(size=(5, c.n_params))
    obs = (qt.Z(0) + qt.X(1),)
    sim = qt.LocalSimulator()
    whole = sim.run([qt.Task(c, obs, rows, 50, 9)])[0]
    reordered = sim.run([qt.Task(c, obs, rows[[3, 0, 4]], 50, 9)])[0]
    np.testing.assert_array_equal(reordered.values, whole.values[[3, 0, 4]])
    np.testing.assert_array_equal(reordered.variances, whole.variances[[3, 0, 4]])


def test_local_simulator_unseeded_sampling_uses_fresh_entropy_and_records_it():
    # Incommensurate coefficients on 8 wires: two runs give one value only for equal counts of
    # all 256 outcomes (a single ⟨Z⟩ at 5000 shots collided in ~3 % of runs of this test).
    circuit = qt.Circuit(8)
    for w in range(8):
        circuit = circuit.ry(w, (w + 1) * qt.P(0))
    observable = sum((np.sqrt(w + 2) * qt.Z(w) for w in range(1, 8)), np.sqrt(2) * qt.Z(0))
    task = qt.Task(circuit, (observable,), np.array([[1.1]]), shots=5000)
    sim = qt.LocalSimulator()
    results = [sim.run([task])[0] for _ in range(3)]
    assert len({float(r.values[0, 0]) for r in results}) == 3
    for result in results:
        seeded = qt.Task(task.circuit, task.observables, task.params, 5000, result.metadata["seed"])
        np.testing.assert_array_equal(sim.run([seeded])[0].values, result.values)
    assert "seed" not in sim.run([qt.Task(task.circuit, task.observables, task.params)])[0].metadata


def test_local_simulator_identity_ignores_budget_and_kernels():
    default = qt.LocalSimulator().identity()
    assert default == qt.LocalSimulator(memory_budget=1 << 20, kernels="numpy").identity()
    assert default["backend"] == "local-statevector" and default["method"] == "statevector"


def test_local_simulator_default_budget_yields_to_a_shared_one():
    huge = qt.Task(qt.Circuit(20).h(0), (qt.Z(0),), np.zeros((1, 0)))
    with shared_memory_budget(1 << 20):
        with pytest.raises(StateTooLargeError, match="20-qubit"):
            qt.LocalSimulator().run([huge])
        explicit = qt.LocalSimulator(memory_budget=1 << 30)
        assert explicit.effective_budget() == 1 << 30  # an explicit budget is kept
    sim = qt.LocalSimulator()
    assert sim.effective_budget() == sim.memory_budget  # outside the block: its own
