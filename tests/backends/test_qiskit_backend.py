"""QiskitBackend over Aer and a fake IBM device: exact, sampled, layout and refusals."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")

import qtrain as qt
from qtrain.backends.protocol import Task, backend_identity
from qtrain.backends.qiskit import QiskitBackend
from qtrain.errors import DeviceCapabilityError
from qtrain.testing.reference_noise import random_circuit, random_observable

AerSimulator = pytest.importorskip("qiskit_aer").AerSimulator


@pytest.fixture(scope="module")
def aer() -> QiskitBackend:
    return QiskitBackend(AerSimulator(method="statevector"), seed_transpiler=7)


def _asymmetric() -> tuple[qt.Circuit, qt.Observable]:
    """Uses wires unevenly, with the gates Aer's primitives misbind (crx, cry, crz, cp)."""
    circuit = (
        qt.Circuit(4)
        .ry(0, qt.P(0))
        .crx(0, 3, 2 * qt.P(1) + 0.3)
        .rx(2, qt.P(2))
        .cry(2, 1, qt.P(3))
        .crz(3, 2, qt.P(0))
        .cphase(1, 0, qt.P(2))
        .cz(1, 3)
    )
    observable = qt.Observable.parse("0.25 + Z0 Z3 + 0.3 X1 + 0.7 Y2 X0 - 0.4 Z1 Y3 + 0.2 X3")
    return circuit, observable


def test_exact_values_equal_local_on_random_circuits(aer: QiskitBackend) -> None:
    rng = np.random.default_rng(17)
    for n_qubits in (2, 3, 4):
        circuit = random_circuit(rng, n_qubits, 14)
        observables = tuple(random_observable(rng, n_qubits, 5) for _ in range(2))
        assert sum(len(o.groups()) for o in observables) >= 3
        params = rng.uniform(-np.pi, np.pi, size=(4, circuit.n_params))
        task = Task(circuit, observables, params)
        got = aer.run([task])[0]
        want = qt.LocalSimulator().run([task])[0]
        assert got.variances is None and got.shots == 0
        np.testing.assert_allclose(got.values, want.values, atol=1e-10)


def test_exact_expval_and_param_shift_gradient_equal_local(aer: QiskitBackend) -> None:
    circuit, observable = _asymmetric()
    theta = np.array([0.3, -1.2, 0.8, 2.1])
    assert qt.expval(circuit, observable, theta, backend=aer) == pytest.approx(
        qt.expval(circuit, observable, theta), abs=1e-10
    )
    remote = qt.grad(circuit, observable, theta, method="param-shift", backend=aer)
    local = qt.grad(circuit, observable, theta, method="param-shift")
    assert remote.stderr is None
    np.testing.assert_allclose(remote.value, local.value, atol=1e-10)
    assert np.abs(local.value).max() > 0.1  # the comparison is not of zeros


def test_sampled_z_scores_are_calibrated_and_seeded_runs_reproducible(aer: QiskitBackend) -> None:
    circuit, observable = _asymmetric()
    params = np.random.default_rng(3).uniform(-np.pi, np.pi, size=(200, 4))
    exact = aer.run([Task(circuit, (observable, qt.Z(1)), params)])[0].values
    task = Task(circuit, (observable, qt.Z(1)), params, shots=200, seed=11)
    sampled = aer.run([task])[0]
    assert sampled.shots == 200 * 200 * task.n_groups
    assert sampled.variances is not None and np.all(sampled.variances > 0)
    z = (sampled.values - exact) / np.sqrt(sampled.variances)
    assert abs(z.mean()) < 0.15 and 0.85 < z.std() < 1.15
    again = aer.run([task])[0]
    np.testing.assert_array_equal(again.values, sampled.values)
    other = aer.run([Task(circuit, (observable,), params, shots=200, seed=12)])[0]
    assert not np.array_equal(other.values[:, 0], sampled.values[:, 0])


def test_bit_order_and_statistics_match_the_local_rule(aer: QiskitBackend) -> None:
    circuit = qt.Circuit(3).x(0).h(2)  # wire 0 set, wire 1 clear, wire 2 in |+>
    observable = qt.Observable.parse("Z0 + 2 Z1 + 0.5 X2 + Z0 Z1")
    task = Task(circuit, (observable,), np.zeros((2, 0)), shots=50, seed=1)
    result = aer.run([task])[0]
    # Z0 = -1, Z1 = +1, X2 = +1, Z0 Z1 = -1: every shot agrees, so the value is exact and
    # the variance is Spread's floor (one shot on the nearest other level), never zero.
    np.testing.assert_allclose(result.values, 0.5)
    assert result.variances is not None and np.all(result.variances > 0)
    assert np.all(result.variances < 4 * 4 / 50**2)
    exact = aer.run([Task(circuit, (observable,), np.zeros((3, 0)))])[0]  # no parameters
    np.testing.assert_allclose(exact.values, 0.5, atol=1e-12)


def test_varying_shots_per_row_are_honoured(aer: QiskitBackend) -> None:
    circuit = qt.Circuit(2).ry(0, qt.P(0)).cx(0, 1)
    observable = qt.Observable.parse("Z0 Z1 + X0")
    params = np.full((4, 1), 0.7)
    shots = np.array([[10, 30], [20, 30], [10, 40], [20, 40]])
    result = aer.run([Task(circuit, (observable,), params, shots=shots, seed=2)])[0]
    assert result.shots == int(shots.sum())
    assert result.variances is not None
    # Row 3 has more shots than row 0 in both groups (ZZ, X0): a smaller variance.
    assert result.variances[3, 0] < result.variances[0, 0]


def test_identity_names_device_method_and_transpile_options() -> None:
    a = QiskitBackend(AerSimulator(method="statevector"), optimization_level=1)
    b = QiskitBackend(AerSimulator(method="statevector"), optimization_level=2)
    c = QiskitBackend(AerSimulator(method="density_matrix"), optimization_level=1)
    ids = [backend_identity(x) for x in (a, b, c)]
    assert ids[0]["method"] == "statevector" and ids[0]["noise"] is None
    assert len({repr(i) for i in ids}) == 3
    assert a.limits.max_qubits == AerSimulator(method="statevector").num_qubits
    assert isinstance(a, qt.Backend)


# --- a fake IBM device ---------------------------------------------------------------------

fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")


@pytest.fixture(scope="module")
def manila() -> QiskitBackend:
    return QiskitBackend(fake_provider.FakeManilaV2(), seed_transpiler=3)


def _no_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a job was submitted")

    monkeypatch.setattr("qiskit_aer.primitives.SamplerV2.from_backend", refuse)
    monkeypatch.setattr("qiskit_aer.primitives.EstimatorV2.from_backend", refuse)


def test_fake_device_circuits_respect_its_coupling_map(manila: QiskitBackend) -> None:
    circuit = qt.ansatz.hardware_efficient(4, 2)  # a chain of entanglers: routing needed
    circuit = circuit.cx(0, 3).cx(1, 3)
    observable = qt.Observable.parse("X0 X3 + Y1 Z2")
    compiled = manila.compiled(Task(circuit, (observable,), np.zeros((1, circuit.n_params))))
    coupling = {tuple(edge) for edge in manila.backend.coupling_map.get_edges()}
    basis = set(manila.backend.target.operation_names)
    for group in observable.groups():
        rotations = tuple((w, p) for w, p in group.basis if p != "Z")
        measured = compiled.measured(rotations)
        for instruction in measured.data:
            qubits = tuple(measured.find_bit(q).index for q in instruction.qubits)
            assert instruction.operation.name in basis
            if len(qubits) == 2:
                assert qubits in coupling


def test_fake_device_samples_with_noise_and_refuses_exact(
    manila: QiskitBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    circuit = qt.Circuit(2).ry(0, qt.P(0)).cx(0, 1).ry(1, qt.P(1))  # an H2-like ansatz
    h2 = qt.Observable.parse("-1.05 + 0.39 Z0 - 0.39 Z1 - 0.01 Z0 Z1 + 0.18 X0 X1")
    params = np.array([[0.2, -0.1], [1.3, 0.4], [-2.0, 0.9]])
    task = Task(circuit, (h2,), params, shots=2000, seed=5)
    result = manila.run([task])[0]
    ideal = qt.LocalSimulator().run([Task(circuit, (h2,), params)])[0].values
    assert result.variances is not None
    assert np.all(np.isfinite(result.values)) and np.all(result.variances > 0)
    assert np.all(np.abs(result.values - ideal) < 0.15)  # device noise: a small bias
    assert result.metadata["seed"] == 5 and result.shots == 2000 * 3 * 2
    _no_jobs(monkeypatch)
    with pytest.raises(DeviceCapabilityError, match="exact values need a simulator"):
        manila.run([task, Task(circuit, (h2,), params)])


def test_too_large_circuit_and_untranslatable_gate_fail_before_any_job(
    manila: QiskitBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_jobs(monkeypatch)
    small = Task(qt.Circuit(2).h(0), (qt.Z(0),), np.zeros((1, 0)), shots=10, seed=1)
    wide = Task(qt.Circuit(6).h(5), (qt.Z(5),), np.zeros((1, 0)), shots=10, seed=1)
    with pytest.raises(DeviceCapabilityError, match=r"6 qubits.*only 5"):
        manila.run([small, wide])
    generic = pytest.importorskip("qiskit.providers.fake_provider").GenericBackendV2
    limited = QiskitBackend(generic(num_qubits=3, basis_gates=["cx", "rz"], seed=1))
    task = Task(qt.Circuit(2).ry(0, qt.P(0)), (qt.Z(0),), np.zeros((1, 1)), shots=10, seed=1)
    with pytest.raises(DeviceCapabilityError, match="ry"):
        limited.run([task])
