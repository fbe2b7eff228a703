"""Zero-noise extrapolation through ``qt.Mitigated`` under global depolarizing noise.

Two qubits, only two-qubit gates, each followed by a two-qubit depolarizing channel: the
channel commutes with every unitary and shrinks every traceless observable by the same
factor ``f``, so ``⟨O⟩(λ) = c₀ + f^{λd}(⟨O⟩ideal − c₀)`` (``d`` gates, ``c₀`` the identity
coefficient) — the model the exponential extrapolation is exact on.
"""

from __future__ import annotations

import numpy as np
import pytest

import qtrain as qt
from qtrain.backends.protocol import Task
from qtrain.errors import ExtrapolationError, MitigationError
from qtrain.mitigation.extrapolation import MitigationWarning

P_DEPOL = 0.05


def global_depolarizing() -> qt.NoiseModel:
    channel = qt.noise.depolarizing(P_DEPOL, 2)
    model = qt.NoiseModel()
    for gate in ("RXX", "RYY", "RZZ", "CNOT", "CRY"):
        model = model.after(gate, channel)
    return model


def two_qubit_circuit() -> qt.Circuit:
    return (
        qt.Circuit(2)
        .rxx(0, 1, qt.P(0))
        .cry(0, 1, 2 * qt.P(1) + 0.3)
        .ryy(0, 1, qt.P(1))
        .cnot(1, 0)
        .rzz(0, 1, qt.P(0) - 0.2)
        .rxx(0, 1, 0.7)
    )


OBSERVABLE = qt.Observable.parse("0.8 Z0 Z1 - 0.5 X0 + 0.3 Y1 + 0.25")
THETA = np.array([0.3, 0.2])  # ⟨O⟩ − c₀ ≈ 0.78: far from the asymptote


@pytest.mark.parametrize(
    "zne",
    [
        qt.ZNE(factors=(1, 3, 5), extrapolation="exponential"),
        qt.ZNE(factors=(1, 3), extrapolation="exponential"),
        qt.ZNE(factors=(1, 1.5, 2.5), extrapolation="exponential", folding="local", seed=3),
    ],
)
def test_exponential_extrapolation_is_exact_under_global_depolarizing(zne: qt.ZNE) -> None:
    backend = qt.Mitigated(qt.LocalSimulator(noise=global_depolarizing()), zne=zne)
    ideal = qt.expval(two_qubit_circuit(), OBSERVABLE, THETA)
    mitigated = qt.expval(two_qubit_circuit(), OBSERVABLE, THETA, backend=backend)
    raw = qt.expval(two_qubit_circuit(), OBSERVABLE, THETA, backend=backend.inner)
    assert mitigated == pytest.approx(ideal, abs=1e-9)
    assert abs(raw - ideal) > 5e-3


def test_richardson_bias_under_global_depolarizing_equals_its_closed_form() -> None:
    factors = (1.0, 3.0, 5.0)
    backend = qt.Mitigated(
        qt.LocalSimulator(noise=global_depolarizing()), zne=qt.ZNE(factors=factors)
    )
    circuit = two_qubit_circuit()
    ideal = qt.expval(circuit, OBSERVABLE, THETA)
    mitigated = qt.expval(circuit, OBSERVABLE, THETA, backend=backend)
    f = 1 - P_DEPOL  # qt.noise.depolarizing shrinks every Pauli by 1 − p (Aer's convention)
    decay = f ** len(circuit)
    lagrange = [np.prod([m / (m - x) for m in factors if m != x]) for x in factors]
    c0 = 0.25
    closed = (ideal - c0) * (sum(w * decay**x for w, x in zip(lagrange, factors, strict=True)) - 1)
    assert mitigated - ideal == pytest.approx(closed, abs=1e-10)


def test_sampled_extrapolation_lands_within_its_error_bar() -> None:
    backend = qt.Mitigated(
        qt.LocalSimulator(noise=global_depolarizing()),
        zne=qt.ZNE(factors=(1, 3, 5), extrapolation="exponential"),
    )
    ideal = qt.expval(two_qubit_circuit(), OBSERVABLE, THETA)
    estimate = qt.expval(
        two_qubit_circuit(), OBSERVABLE, THETA, shots=20_000, seed=2, backend=backend
    )
    assert isinstance(estimate, qt.Estimate)
    assert estimate.shots == 20_000 * len(OBSERVABLE.groups())  # split, never multiplied
    assert abs(estimate.value - ideal) < 3 * estimate.stderr


@pytest.mark.slow
@pytest.mark.parametrize("extrapolation", ["richardson", "exponential", "linear"])
def test_extrapolated_error_bars_are_calibrated(extrapolation: str) -> None:
    """z-scores against the estimator's own exact expectation: mean ≈ 0, std ≈ 1."""
    zne = qt.ZNE(factors=(1, 2, 3), extrapolation=extrapolation, folding="local")
    backend = qt.Mitigated(qt.LocalSimulator(noise=global_depolarizing()), zne=zne)
    circuit = two_qubit_circuit()
    target = qt.expval(circuit, OBSERVABLE, THETA, backend=backend)  # exact, same estimator
    rows = np.tile(THETA, (400, 1)) + np.arange(400)[:, None] * 1e-13  # distinct row keys
    task = Task(circuit, (OBSERVABLE,), rows, 3000, 17)
    result = backend.run([task])[0]
    assert result is not None and result.variances is not None
    z = (result.values[:, 0] - target) / np.sqrt(result.variances[:, 0])
    assert abs(z.mean()) < 0.15
    assert 0.88 < z.std() < 1.12


def test_factors_get_independent_sampling_streams() -> None:
    """Same rows, same seed: the folded tasks must not reuse one another's draws."""
    backend = qt.Mitigated(
        qt.LocalSimulator(noise=global_depolarizing()), zne=qt.ZNE(factors=(1, 3))
    )
    _, inner, _ = backend.plan([Task(two_qubit_circuit(), (OBSERVABLE,), THETA[None, :], 100, 9)])
    assert len({t.seed for t in inner}) == 2


def test_readout_and_zne_compose() -> None:
    noise = global_depolarizing().readout(qt.noise.readout_error(0.03, 0.07))
    backend = qt.Mitigated(
        qt.LocalSimulator(noise=noise),
        readout=True,
        zne=qt.ZNE(factors=(1, 3, 5), extrapolation="exponential"),
    )
    ideal = qt.expval(two_qubit_circuit(), OBSERVABLE, THETA)
    assert qt.expval(two_qubit_circuit(), OBSERVABLE, THETA, backend=backend) == pytest.approx(
        ideal, abs=1e-9
    )
    estimate = qt.expval(
        two_qubit_circuit(), OBSERVABLE, THETA, shots=30_000, seed=4, backend=backend
    )
    assert isinstance(estimate, qt.Estimate)
    assert abs(estimate.value - ideal) < 3 * estimate.stderr


def test_exponential_on_exact_values_of_mixed_sign_is_refused_or_falls_back() -> None:
    """⟨Z0⟩ − 0 crosses zero between factors only if the model is not exponential: a
    readout bias does that (it adds a constant that does not decay)."""
    noise = global_depolarizing().readout(qt.noise.readout_error(0.0, 0.4), [0])
    circuit = qt.Circuit(2).rxx(0, 1, qt.P(0)).cnot(0, 1)
    strict = qt.ZNE(factors=(1, 3, 5), extrapolation="exponential", on_failure="raise")
    backend = qt.Mitigated(qt.LocalSimulator(noise=noise), zne=strict)
    with pytest.raises(ExtrapolationError, match="one side of its asymptote"):
        qt.expval(circuit, qt.Z(0), np.array([2.5]), backend=backend)
    lenient = qt.Mitigated(
        qt.LocalSimulator(noise=noise), zne=qt.ZNE(factors=(1, 3, 5), extrapolation="exponential")
    )
    task = Task(circuit, (qt.Z(0),), np.array([[2.5], [0.3]]))
    with pytest.warns(MitigationWarning, match="both sides"):
        result = lenient.run([task])[0]
    assert result is not None
    mitigation = result.metadata["mitigation"]
    assert isinstance(mitigation, dict) and mitigation["fallback_cells"] == 1


def test_too_few_shots_for_the_factors_is_an_error_before_any_work() -> None:
    backend = qt.Mitigated(qt.LocalSimulator(), zne=qt.ZNE(factors=(1, 3, 5)))
    with pytest.raises(MitigationError, match="at least 6 shots"):
        qt.expval(two_qubit_circuit(), OBSERVABLE, THETA, shots=2, seed=1, backend=backend)


def test_gradients_run_through_the_wrapper() -> None:
    backend = qt.Mitigated(
        qt.LocalSimulator(noise=global_depolarizing()),
        zne=qt.ZNE(factors=(1, 3, 5), extrapolation="exponential"),
    )
    ideal = qt.grad(two_qubit_circuit(), OBSERVABLE, THETA)
    mitigated = qt.grad(two_qubit_circuit(), OBSERVABLE, THETA, backend=backend)
    assert isinstance(mitigated, qt.Gradient) and isinstance(ideal, qt.Gradient)
    np.testing.assert_allclose(mitigated.value, ideal.value, atol=1e-9)
    assert np.all(np.abs(ideal.value) > 1e-2)
