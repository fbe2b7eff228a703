"""The density-matrix simulator against the dense Kraus reference (issue 15).

Random circuits over every gate family with random noise models using every channel
constructor and every kind of rule (after a named gate, on one op's wires, after every gate,
before measurement, 1- and 2-wire, readout error) agree with ``reference_noisy_expval`` to
1e-10, on both kernel sets, batched or row by row.
"""

import importlib.util

import numpy as np
import pytest

import qtrain as qt
from qtrain.backends.protocol import Task
from qtrain.noise import amplitude_damping, depolarizing, readout_error
from qtrain.testing.reference_noise import (
    GATE_FAMILIES,
    random_circuit,
    random_noisy_case,
    random_observable,
    reference_noisy_expval,
)

HAS_NUMBA = importlib.util.find_spec("numba") is not None
KERNELS = [
    "numpy",
    pytest.param("numba", marks=pytest.mark.skipif(not HAS_NUMBA, reason="no numba")),
]
SEEDS = range(48)
CONSTRUCTORS = {
    "depolarizing",
    "bit_flip",
    "phase_flip",
    "pauli_channel",
    "amplitude_damping",
    "phase_damping",
    "thermal_relaxation",
    "kraus",
}


def dm(noise, kernels=None, **options):
    return qt.LocalSimulator(kernels=kernels, noise=noise, method="density_matrix", **options)


def shifted_rows(theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The base row, parameter-shift-like rows (one entry moved) and an unrelated row."""
    rows = [theta]
    for k in range(theta.size):
        for s in (np.pi / 2, -0.9):
            row = theta.copy()
            row[k] += s
            rows.append(row)
    rows.append(rng.uniform(-np.pi, np.pi, theta.size))
    return np.array(rows).reshape(len(rows), theta.size)


def test_density_matrix_random_cases_cover_every_gate_channel_and_rule():
    """The seeds below exercise everything the acceptance test claims (a check of the cases)."""
    gates, channels, kinds = set(), set(), set()
    for seed in SEEDS:
        circuit, model, _ = random_noisy_case(seed)
        gates |= {op.gate for op in circuit.ops}
        for rule in model.gate_rules:
            names = rule.channel.name.split("⊗")
            channels |= set(names)
            kinds.add("tensor" if len(names) > 1 else f"{rule.channel.n_wires}-wire")
            kinds.add("after_all" if rule.gate == "*" else "on wires" if rule.wires else "after")
        for rule in model.measure_rules:
            kinds.add(f"before_measure {rule.channel.n_wires}-wire")
        kinds |= {"readout"} if model.readout_rules else set()
    assert gates == set(GATE_FAMILIES)
    assert channels == CONSTRUCTORS
    assert kinds >= {
        "1-wire", "2-wire", "tensor", "after", "on wires", "after_all",
        "before_measure 1-wire", "before_measure 2-wire", "readout",
    }  # fmt: skip


@pytest.mark.parametrize("kernels", KERNELS)
def test_density_matrix_matches_the_kraus_reference_on_random_noisy_circuits(kernels):
    for seed in SEEDS:
        circuit, model, theta = random_noisy_case(seed)
        rng = np.random.default_rng(1000 + seed)
        H = random_observable(rng, circuit.n_qubits, 4)
        rows = shifted_rows(theta, rng)
        expected = [reference_noisy_expval(circuit, H, row, model) for row in rows]
        sim = dm(model, kernels)
        batched = qt.expval(circuit, H, rows, backend=sim)
        np.testing.assert_allclose(batched, expected, atol=1e-10, err_msg=f"seed {seed}")
        for b in (0, len(rows) - 1):
            single = qt.expval(circuit, H, rows[b], backend=sim)
            assert single == pytest.approx(batched[b], abs=1e-12), f"seed {seed} row {b}"


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize(("n", "seed"), [(5, 0), (6, 1)])
def test_density_matrix_matches_the_reference_on_wider_registers(kernels, n, seed):
    rng = np.random.default_rng(seed)
    circuit, model, theta = random_noisy_case(seed, n_qubits=n, n_ops=24)
    H = random_observable(rng, n, 6)
    rows = np.array([theta, rng.uniform(-3, 3, theta.size)]).reshape(2, theta.size)
    got = qt.expval(circuit, H, rows, backend=dm(model, kernels))
    expected = [reference_noisy_expval(circuit, H, row, model) for row in rows]
    np.testing.assert_allclose(got, expected, atol=1e-10)


@pytest.mark.parametrize("kernels", KERNELS)
def test_density_matrix_without_noise_equals_the_statevector(kernels):
    for seed in range(12):
        rng = np.random.default_rng(seed)
        circuit = random_circuit(rng, int(rng.integers(1, 5)), 10)
        H = random_observable(rng, circuit.n_qubits, 5)
        theta = rng.uniform(-3, 3, (3, circuit.n_params))
        pure = qt.expval(circuit, H, theta, backend=qt.LocalSimulator(kernels=kernels))
        sim = dm(None, kernels)
        result = sim.run([Task(circuit, (H,), theta)])[0]
        assert result.metadata["method"] == "density_matrix"
        np.testing.assert_allclose(result.values[:, 0], pure, atol=1e-10)


def test_density_matrix_result_records_its_method_and_auto_picks_by_noise():
    c = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1)
    task = Task(c, (qt.Z(1),), np.array([[0.4]]))
    channels = qt.NoiseModel().after("CNOT", depolarizing(0.1, n_wires=2))
    readout_only = qt.NoiseModel().readout(readout_error(0.1, 0.05))
    cases = [
        (qt.LocalSimulator(noise=channels), "density_matrix"),
        (qt.LocalSimulator(noise=readout_only), "statevector"),
        (qt.LocalSimulator(), "statevector"),
        (qt.LocalSimulator(noise=channels, method="density_matrix"), "density_matrix"),
    ]
    for sim, method in cases:
        assert sim.choose(c, exact=True).method == method
        result = sim.run([task])[0]
        assert result.metadata["method"] == method
        expected = reference_noisy_expval(c, qt.Z(1), np.array([0.4]), sim.noise)
        assert result.values[0, 0] == pytest.approx(expected, abs=1e-12)
    assert qt.LocalSimulator(noise=qt.NoiseModel()).noise is None
    assert qt.LocalSimulator(noise=channels).choose(c, exact=False).method == "density_matrix"


def test_density_matrix_readout_only_model_on_the_statevector_is_exact():
    c = qt.Circuit(3).ry(0, qt.P(0)).crx(0, 1, 2 * qt.P(1) + 0.3).h(2)
    model = qt.NoiseModel().readout(readout_error(0.08, 0.21)).readout(readout_error(0.3, 0), 2)
    H = qt.Observable.parse("0.5 Z0 Z1 - 1.2 X1 + 0.7 Y0 X2 + 0.2")
    theta = np.array([0.7, -0.4])
    expected = reference_noisy_expval(c, H, theta, model)
    assert abs(expected - qt.expval(c, H, theta)) > 0.05  # the readout error is visible
    for method in ("statevector", "auto", "density_matrix"):
        sim = qt.LocalSimulator(noise=model, method=method)
        assert qt.expval(c, H, theta, backend=sim) == pytest.approx(expected, abs=1e-10)


def test_density_matrix_statevector_method_refuses_channels():
    model = qt.NoiseModel().after_all(amplitude_damping(0.1))
    c = qt.Circuit(1).rx(0, 0.3)
    with pytest.raises(qt.SimulationMethodError, match="statevector"):
        sim = qt.LocalSimulator(noise=model, method="statevector")
        qt.expval(c, qt.Z(0), backend=sim)


def test_density_matrix_chunking_changes_no_value():
    circuit, model, theta = random_noisy_case(7, n_qubits=3, n_ops=12)
    H = random_observable(np.random.default_rng(7), 3, 4)
    rows = shifted_rows(theta, np.random.default_rng(0))
    roomy = qt.expval(circuit, H, rows, backend=dm(model))
    one_row = dm(model).choose(circuit, exact=True).bytes_per_row
    for budget in (one_row, 3 * one_row + 1):
        tight = qt.expval(circuit, H, rows, backend=dm(model, memory_budget=budget))
        np.testing.assert_allclose(tight, roomy, atol=1e-12)


class NoKernels(qt.LocalSimulator):
    """Any simulation touches the kernels; validation must fail before that."""

    @property
    def kernels(self):
        raise AssertionError("the simulator started simulating before it validated the task")


def test_density_matrix_too_large_names_the_method_and_the_alternative():
    c = qt.ansatz.hardware_efficient(8, 1)
    model = qt.NoiseModel().after_all(depolarizing(0.01))
    sim = NoKernels(memory_budget=1 << 16, noise=model, method="density_matrix")
    with pytest.raises(qt.StateTooLargeError, match=r"(?s)density_matrix.*trajectories"):
        sim.choose(c, exact=True)
    with pytest.raises(qt.StateTooLargeError, match=r"(?s)density_matrix.*trajectories"):
        qt.expval(c, qt.Z(0), np.zeros(c.n_params), backend=sim)
    small = Task(qt.Circuit(1).h(0), (qt.Z(0),), np.zeros((1, 0)))
    big = Task(c, (qt.Z(0),), np.zeros((1, c.n_params)))
    with pytest.raises(qt.StateTooLargeError):
        sim.run([small, big])  # nothing runs: the small task does not go first


def test_density_matrix_noise_on_a_missing_wire_is_refused_before_simulating():
    c = qt.Circuit(2).rx(0, 0.2).cnot(0, 1)
    models = [
        qt.NoiseModel().after("RX", amplitude_damping(0.1), wires=3),
        qt.NoiseModel().before_measure(depolarizing(0.1), [0, 2]),
        qt.NoiseModel().readout(readout_error(0.1, 0.1), wires=[5]),
    ]
    for model in models:
        for method in ("density_matrix", "auto", "trajectories"):
            sim = NoKernels(noise=model, method=method)
            with pytest.raises(qt.NoiseModelError, match="wire"):
                qt.expval(c, qt.Z(0), shots=100, seed=1, backend=sim)


def test_density_matrix_unknown_method_is_refused_when_the_simulator_is_made():
    model = qt.NoiseModel().after_all(depolarizing(0.1))
    for noise in (model, None):
        with pytest.raises(qt.SimulationMethodError, match=r"'exact'.*density_matrix"):
            qt.LocalSimulator(noise=noise, method="exact")


def test_density_matrix_sampled_z_scores_are_standard_normal_with_readout():
    """Shots from the exact noisy distribution, readout flips included.

    For N = 200 independent estimates with z = (value − exact)/stderr ~ N(0, 1): the mean has
    standard deviation 1/√N = 0.071, so |mean| < 4/√N fails by chance with p ≈ 6e-5; the
    sample standard deviation has standard deviation ≈ 1/√(2N) = 0.05, so 0.8 < std < 1.25
    (−4σ, +5σ) fails with p < 1e-4. The same z-scores taken against the value without
    readout error fail these bounds (checked below), so a sampler that ignored it would.
    """
    zs, blind = [], []
    for seed in range(200):
        circuit, model, theta = random_noisy_case(seed, n_qubits=int(1 + seed % 3))
        rng = np.random.default_rng(seed)
        H = random_observable(rng, circuit.n_qubits, 3)
        for wire in range(circuit.n_qubits):
            model = model.readout(readout_error(*rng.uniform(0.05, 0.25, 2)), wire)
        exact = reference_noisy_expval(circuit, H, theta, model)
        est = qt.expval(circuit, H, theta, shots=2000, seed=seed, backend=dm(model))
        if est.stderr == 0.0 and abs(est.value - exact) < 1e-12:
            continue  # a deterministic outcome
        zs.append((est.value - exact) / est.stderr)
        without_readout = qt.NoiseModel(model.gate_rules, model.measure_rules)
        ideal_readout = reference_noisy_expval(circuit, H, theta, without_readout)
        blind.append((est.value - ideal_readout) / est.stderr)
    z = np.array(zs)
    n = z.size
    assert n >= 190
    assert np.all(np.isfinite(z))
    assert abs(z.mean()) < 4 / np.sqrt(n), z.mean()
    assert 0.8 < z.std(ddof=1) < 1.25, z.std(ddof=1)
    b = np.array(blind)
    assert not (abs(b.mean()) < 4 / np.sqrt(n) and 0.8 < b.std(ddof=1) < 1.25)


@pytest.mark.skipif(not HAS_NUMBA, reason="no numba")
def test_density_matrix_sampled_numbers_do_not_depend_on_the_kernels():
    """The kernels stay out of the store key, so sampled rows must agree across them."""
    for seed in range(60):
        circuit, model, theta = random_noisy_case(seed)
        H = random_observable(np.random.default_rng(seed), circuit.n_qubits, 3)
        task = Task(circuit, (H,), np.vstack([theta, theta + 0.5]), 301, seed)
        a, b = (dm(model, kernels).run([task])[0] for kernels in ("numpy", "numba"))
        np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-10, err_msg=f"{seed}")


def test_density_matrix_sampled_readout_on_a_basis_state():
    c = qt.Circuit(2).x(0)
    model = qt.NoiseModel().readout(readout_error(0.1, 0.3), 0).after("X", depolarizing(0.2))
    exact = reference_noisy_expval(c, qt.Z(0), None, model)  # (1 − 0.4)(−0.8) + 0.2
    assert exact == pytest.approx(0.6 * -0.8 + 0.2)
    est = qt.expval(c, qt.Z(0), shots=40_000, seed=3, backend=dm(model))
    assert abs(est.value - exact) < 5 * est.stderr
    assert est.stderr == pytest.approx(np.sqrt((1 - exact**2) / 40_000), rel=0.05)
