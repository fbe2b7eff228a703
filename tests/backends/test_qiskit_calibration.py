"""calibration_from_target on FakeManilaV2, and qtrain's model vs Aer's ``from_backend``."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")
fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")

from qiskit import QuantumCircuit  # noqa: E402
from qiskit.quantum_info import Pauli  # noqa: E402
from qiskit_aer import AerSimulator  # noqa: E402
from qiskit_aer.noise import NoiseModel as AerNoiseModel  # noqa: E402

import qtrain as qt  # noqa: E402
from qtrain.backends.qiskit import QiskitBackend  # noqa: E402
from qtrain.backends.qiskit_calibration import calibration_from_target  # noqa: E402

N = 5  # Manila's qubits (a line 0-1-2-3-4); the gates act on 0-2
ACTIVE = 3
PAIRS = ((0, 1), (1, 0), (1, 2), (2, 1))
TOL = 1e-9  # reached: ~9e-11 (gate noise); the two models are the same channels


@pytest.fixture(scope="module")
def device() -> object:
    return fake_provider.FakeManilaV2()


@pytest.fixture(scope="module")
def snapshot(device: object) -> qt.Calibration:
    return calibration_from_target(device)


def test_snapshot_matches_target_and_properties(device, snapshot) -> None:
    target, props = device.target, device.properties()
    assert snapshot.n_qubits == 5
    assert snapshot.id.startswith("fake_manila@")
    for q in range(5):
        qp = target.qubit_properties[q]
        assert snapshot.t1[q] == pytest.approx(qp.t1 * 1e6, rel=1e-9)
        assert snapshot.t2[q] == pytest.approx(min(qp.t2, 2 * qp.t1) * 1e6, rel=1e-9)
        assert snapshot.readout_p01[q] == pytest.approx(
            props.qubit_property(q)["prob_meas1_prep0"][0]
        )
        assert snapshot.readout_p10[q] == pytest.approx(
            props.qubit_property(q)["prob_meas0_prep1"][0]
        )
    assert snapshot.readout_p01 != snapshot.readout_p10  # asymmetric, from the properties
    by_key = {(g.gate, g.wires): g for g in snapshot.gates}
    cx = target["cx"][(1, 2)]
    assert by_key["CNOT", (1, 2)].error == pytest.approx(cx.error, rel=1e-12)
    assert by_key["CNOT", (1, 2)].duration == pytest.approx(cx.duration * 1e6, rel=1e-9)
    assert by_key["SX", (3,)].error == pytest.approx(target["sx"][(3,)].error, rel=1e-12)
    assert not any(g.gate == "RZ" for g in snapshot.gates)  # virtual: no error, no duration


def test_backend_exposes_cached_calibration_and_tags_results(device) -> None:
    backend = QiskitBackend(device, seed_transpiler=1)
    assert backend.calibration is backend.calibration
    assert backend.calibration is not None and backend.calibration.n_qubits == 5
    assert QiskitBackend(AerSimulator()).calibration is None
    circuit = qt.Circuit(2).sx(0).cnot(0, 1)
    got = backend.run([qt.Task(circuit, (qt.Z(1),), np.zeros((1, 0)), shots=50, seed=3)])[0]
    assert got.metadata["calibration_id"] == backend.calibration.id
    simulated = QiskitBackend(AerSimulator()).run(
        [qt.Task(circuit, (qt.Z(1),), np.zeros((1, 0)), shots=50, seed=3)]
    )[0]
    assert "calibration_id" not in simulated.metadata  # not "None": the ledger would count it


def _random_pair(rng: np.random.Generator) -> tuple[qt.Circuit, QuantumCircuit]:
    ours, theirs = qt.Circuit(N), QuantumCircuit(N)
    for _ in range(14):
        kind = rng.integers(4)
        q = int(rng.integers(ACTIVE))
        if kind == 0:
            ours, _ = ours.sx(q), theirs.sx(q)
        elif kind == 1:
            ours, _ = ours.x(q), theirs.x(q)
        elif kind == 2:
            angle = float(rng.uniform(-np.pi, np.pi))
            ours, _ = ours.rz(q, angle), theirs.rz(angle, q)
        else:
            a, b = PAIRS[rng.integers(len(PAIRS))]
            ours, _ = ours.cnot(a, b), theirs.cx(a, b)
    return ours, theirs


def _aer_density_matrix(device, circuit: QuantumCircuit) -> np.ndarray:
    noise = AerNoiseModel.from_backend(device)
    sim = AerSimulator(method="density_matrix", noise_model=noise)
    qc = circuit.copy()
    qc.save_density_matrix()
    return np.asarray(sim.run(qc).result().data()["density_matrix"])


def _qtrain(model: qt.NoiseModel, circuit: qt.Circuit, word: str) -> float:
    sim = qt.LocalSimulator(noise=model, method="density_matrix")
    return float(qt.expval(circuit, qt.Observable.parse(word), backend=sim))


def _word(label: str) -> str:  # qiskit label (qubit 0 rightmost) → qtrain "X0 Z2"
    return " ".join(f"{p}{q}" for q, p in enumerate(reversed(label)) if p != "I")


def test_gate_noise_equals_aer_from_backend(device, snapshot) -> None:
    """Depolarizing + thermal relaxation per gate instance, no readout: Tr(ρP) both sides."""
    model = qt.NoiseModel.from_calibration(
        dataclasses.replace(snapshot, readout_p01=(), readout_p10=())
    )
    rng = np.random.default_rng(5)
    labels = ["".join(t) for t in itertools.product("IXYZ", repeat=ACTIVE)][1:]
    worst = effect = 0.0
    for _ in range(3):
        ours, theirs = _random_pair(rng)
        rho = _aer_density_matrix(device, theirs)
        for label in rng.choice(labels, size=8, replace=False):
            want = float(np.real(np.trace(rho @ Pauli("II" + label).to_matrix())))
            worst = max(worst, abs(_qtrain(model, ours, _word(label)) - want))
            effect = max(effect, abs(_qtrain(qt.NoiseModel(), ours, _word(label)) - want))
    assert worst < TOL
    assert effect > 1e-2  # the noise compared is not negligible


def test_readout_equals_confusion_applied_to_aer_probabilities(device, snapshot) -> None:
    """Aer's exact paths skip readout, so its confusion matrices are applied to ρ's diagonal.

    These use the properties' asymmetric P(1|0)/P(0|1); Aer's ``from_backend`` on a
    BackendV2 would put the symmetric ``target["measure"].error`` instead.
    """
    model = qt.NoiseModel.from_calibration(snapshot)
    ours, theirs = _random_pair(np.random.default_rng(9))
    probs = np.real(np.diag(_aer_density_matrix(device, theirs)))
    confusion = np.ones((1, 1))
    for q in reversed(range(N)):  # index bit q of the basis state is qubit q
        p01, p10 = snapshot.readout_p01[q], snapshot.readout_p10[q]
        confusion = np.kron(confusion, [[1 - p01, p10], [p01, 1 - p10]])
    seen = confusion @ probs
    for qubits in ((0,), (2,), (0, 1), (0, 1, 2)):
        signs = [(-1) ** sum((i >> q) & 1 for q in qubits) for i in range(1 << N)]
        want = float(np.dot(signs, seen))
        got = _qtrain(model, ours, " ".join(f"Z{q}" for q in qubits))
        assert got == pytest.approx(want, abs=TOL)
        assert abs(float(np.dot(signs, probs)) - want) > 1e-3  # readout mattered
