"""Mitigation where it matters: H₂ gradients and VQE under calibration-derived noise.

The noise is the fake 5-qubit device's (examples/calibrations/fake_5q.json, qubits 0-3:
thermal relaxation, depolarising gate errors, 1-2 % readout errors), as Qiskit Aer's
``NoiseModel.from_backend`` builds it — not the global depolarising model ZNE is exact on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qtrain as qt
from qtrain.app.noise_config import restrict_calibration
from qtrain.mitigation.extrapolation import MitigationWarning

CALIBRATION = Path(__file__).parents[2] / "examples" / "calibrations" / "fake_5q.json"


@pytest.fixture(scope="module")
def noisy() -> qt.LocalSimulator:
    calibration = restrict_calibration(qt.Calibration.load(CALIBRATION), [0, 1, 2, 3])
    return qt.LocalSimulator(noise=qt.NoiseModel.from_calibration(calibration))


@pytest.fixture(scope="module")
def h2() -> qt.problems.Problem:
    return qt.problems.build("h2", ansatz="hea", layers=2, seed=7)


def mitigated(noisy: qt.LocalSimulator) -> qt.Mitigated:
    return qt.Mitigated(noisy, readout=True, zne=qt.ZNE(extrapolation="exponential"))


def theta_of(h2: qt.problems.Problem) -> np.ndarray:
    return np.asarray(h2.theta0) + np.random.default_rng(1).uniform(-0.3, 0.3, h2.n_params)


def test_exact_mitigated_gradient_is_closer_to_the_noiseless_one(
    noisy: qt.LocalSimulator, h2: qt.problems.Problem
) -> None:
    circuit, hamiltonian, theta = h2.circuits[0], h2.observables[0], theta_of(h2)
    ideal = qt.grad(circuit, hamiltonian, theta).value
    raw = qt.grad(circuit, hamiltonian, theta, backend=noisy).value
    fixed = qt.grad(circuit, hamiltonian, theta, backend=mitigated(noisy)).value
    raw_error, fixed_error = np.linalg.norm(raw - ideal), np.linalg.norm(fixed - ideal)
    assert fixed_error < raw_error / 5  # measured: 0.003 against 0.041


def test_sampled_mitigated_gradient_is_closer_and_its_stderr_covers_the_difference(
    noisy: qt.LocalSimulator, h2: qt.problems.Problem
) -> None:
    circuit, hamiltonian, theta = h2.circuits[0], h2.observables[0], theta_of(h2)
    ideal = qt.grad(circuit, hamiltonian, theta).value
    raw = qt.grad(circuit, hamiltonian, theta, backend=noisy, shots=20_000, seed=3)
    fixed = qt.grad(circuit, hamiltonian, theta, backend=mitigated(noisy), shots=20_000, seed=3)
    assert fixed.stderr is not None and raw.stderr is not None
    assert np.linalg.norm(fixed.value - ideal) < np.linalg.norm(raw.value - ideal)
    z = (fixed.value - ideal) / fixed.stderr
    assert np.all(np.abs(z) < 4)
    assert np.mean(z**2) < 2.0  # χ²/P: the error bars are not too narrow
    raw_z = (raw.value - ideal) / raw.stderr
    assert np.mean(raw_z**2) > np.mean(z**2)  # the raw one's narrow bars hide its bias
    assert fixed.shots == raw.shots  # mitigation costs variance, not shots


def test_mitigated_vqe_ends_closer_to_fci(
    noisy: qt.LocalSimulator, h2: qt.problems.Problem
) -> None:
    """The README's figures (exact noisy gradients, Adam, 60 steps)."""
    objective = qt.Objective.from_problem(h2)

    def train(backend: qt.Backend) -> qt.FitResult:
        return qt.fit(
            objective,
            h2.theta0,
            qt.optim.Adam(learning_rate=0.1),
            backend=backend,
            seed=5,
            budget=qt.Budget(max_steps=60),
        )

    raw = train(noisy)
    # Some shifted rows' energies cross the asymptote (the identity coefficient): relaxation
    # is not depolarising, and there the exponential fit falls back to the linear one.
    with pytest.warns(MitigationWarning, match="both sides of the asymptote"):
        fixed = train(mitigated(noisy))
    fci = h2.exact_value
    assert fci is not None
    assert raw.final_loss is not None and fixed.final_loss is not None
    # the energy each run reports (raw: the noisy energy; mitigated: the mitigated one)
    assert abs(fixed.final_loss - fci) < abs(raw.final_loss - fci) / 10  # 0.0023 vs 0.091 Ha
    # and the noiseless energy of the parameters each run found
    true_raw = qt.expval(h2.circuits[0], h2.observables[0], raw.theta)
    true_fixed = qt.expval(h2.circuits[0], h2.observables[0], fixed.theta)
    assert abs(true_fixed - fci) < abs(true_raw - fci)  # 1.6e-5 vs 3.6e-4 Ha


def test_calibration_shots_are_charged_to_the_ledger_and_the_budget(
    noisy: qt.LocalSimulator, h2: qt.problems.Problem
) -> None:
    objective = qt.Objective.from_problem(h2)
    backend = qt.Mitigated(noisy, readout=qt.ReadoutMitigation(shots=1000))
    plain = qt.fit(
        objective,
        h2.theta0,
        qt.optim.Adam(),
        backend=noisy,
        shots=100,
        seed=1,
        budget=qt.Budget(max_steps=2),
    )
    run = qt.fit(
        objective,
        h2.theta0,
        qt.optim.Adam(),
        backend=backend,
        shots=100,
        seed=1,
        budget=qt.Budget(max_steps=2),
    )
    calibration = 2 * 4 * 1000  # two circuits, four wires, 1000 shots per Z_w
    assert run.shots == plain.shots + calibration
    assert sum(record.shots for record in run.history) == run.shots
    short = qt.fit(
        objective,
        h2.theta0,
        qt.optim.Adam(),
        backend=qt.Mitigated(noisy, readout=qt.ReadoutMitigation(shots=1000)),
        shots=100,
        seed=1,
        budget=qt.Budget(max_steps=2, max_shots=plain.history[0].shots + 10),
    )
    assert short.stopped_by == "max_shots" and short.shots == 0  # could not pay calibration
