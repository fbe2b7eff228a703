"""Readout-error mitigation through ``qt.Mitigated``: exact recovery and calibrated error bars."""

from __future__ import annotations

import numpy as np
import pytest

import qtrain as qt
from qtrain.backends.protocol import BackendLimits, Task
from qtrain.errors import MitigationError
from qtrain.noise.readout import readout_error
from qtrain.testing.reference_noise import random_circuit, random_observable

ERRORS = {0: readout_error(0.04, 0.09), 1: readout_error(0.08, 0.03), 2: readout_error(0.06, 0.12)}


def readout_only(errors: dict[int, qt.noise.ReadoutError] = ERRORS) -> qt.NoiseModel:
    model = qt.NoiseModel()
    for wire, error in errors.items():
        model = model.readout(error, [wire])
    return model


def case(seed: int, n: int = 3) -> tuple[qt.Circuit, qt.Observable, np.ndarray]:
    rng = np.random.default_rng(seed)
    circuit = random_circuit(rng, n, 8)
    observable = random_observable(rng, n, 5) + 0.3
    theta = rng.uniform(-np.pi, np.pi, circuit.n_params)
    return circuit, observable, theta


@pytest.mark.parametrize("seed", range(6))
def test_exact_readout_mitigation_recovers_the_ideal_value(seed: int) -> None:
    circuit, observable, theta = case(seed)
    noisy = qt.LocalSimulator(noise=readout_only())
    ideal = qt.expval(circuit, observable, theta)
    raw = qt.expval(circuit, observable, theta, backend=noisy)
    mitigated = qt.expval(circuit, observable, theta, backend=qt.Mitigated(noisy, readout=True))
    assert mitigated == pytest.approx(ideal, abs=1e-10)
    assert abs(raw - ideal) > 1e-4  # the readout error was there to remove


def test_a_given_calibration_mitigates_without_calibration_circuits() -> None:
    circuit, observable, theta = case(7)
    noisy = qt.LocalSimulator(noise=readout_only())
    given = qt.ReadoutMitigation(calibration=ERRORS)
    backend = qt.Mitigated(noisy, readout=given)
    task = Task(circuit, (observable,), theta[None, :])
    result = backend.run([task])[0]
    assert result is not None
    assert result.values[0, 0] == pytest.approx(qt.expval(circuit, observable, theta), abs=1e-10)
    assert result.metadata["overhead_shots"] == 0


def test_a_qt_calibration_snapshot_is_a_given_calibration() -> None:
    snapshot = qt.Calibration(
        id="snap-1",
        timestamp="2026-12-07T10:00:00",
        t1=(1e-4, 1e-4, 1e-4),
        t2=(8e-5, 8e-5, 8e-5),
        readout_p01=tuple(ERRORS[w].p01 for w in range(3)),
        readout_p10=tuple(ERRORS[w].p10 for w in range(3)),
    )
    circuit, observable, theta = case(8)
    backend = qt.Mitigated(
        qt.LocalSimulator(noise=readout_only()),
        readout=qt.ReadoutMitigation(calibration=snapshot),
    )
    value = qt.expval(circuit, observable, theta, backend=backend)
    assert value == pytest.approx(qt.expval(circuit, observable, theta), abs=1e-10)


def zscores(seeds: range, *, shots: int, calibration_shots: int) -> tuple[np.ndarray, np.ndarray]:
    """z-scores of mitigated estimates (fresh calibration each trial), with and without the
    calibration's share of the variance."""
    circuit, observable, theta = case(21)
    ideal = qt.expval(circuit, observable, theta)
    noisy = qt.LocalSimulator(noise=readout_only())
    full, data_only = [], []
    for seed in seeds:
        options = qt.ReadoutMitigation(shots=calibration_shots, seed=seed)
        backend = qt.Mitigated(noisy, readout=options)
        task = Task(circuit, (observable,), theta[None, :], shots, seed)
        result = backend.run([task])[0]
        assert result is not None and result.variances is not None
        _, inner, _ = backend.plan([task])  # the same inner task: its data-only variance
        data = noisy.run(inner)[0]
        assert data.variances is not None
        error = result.values[0, 0] - ideal
        full.append(error / np.sqrt(result.variances[0, 0]))
        data_only.append(error / np.sqrt(data.variances.sum()))
    return np.array(full), np.array(data_only)


@pytest.mark.slow
def test_mitigated_error_bars_are_calibrated_over_many_trials() -> None:
    z, _ = zscores(range(300), shots=4000, calibration_shots=4000)
    assert abs(z.mean()) < 0.15
    assert 0.88 < z.std() < 1.12
    assert np.mean(np.abs(z) < 3) > 0.98


@pytest.mark.slow
def test_the_calibration_share_of_the_error_bar_is_needed_and_enough() -> None:
    """With a short calibration the data's variance alone is overconfident."""
    z, data_only = zscores(range(300), shots=40_000, calibration_shots=500)
    assert 0.88 < z.std() < 1.12
    assert data_only.std() > 1.3  # the test can fail: leaving the calibration out shows


def test_mitigated_estimates_carry_raw_values_and_metadata() -> None:
    circuit, observable, theta = case(3)
    backend = qt.Mitigated(qt.LocalSimulator(noise=readout_only()), readout=True)
    result = backend.run([Task(circuit, (observable,), np.stack([theta, -theta]), 3000, 5)])[0]
    assert result is not None
    mitigation = result.metadata["mitigation"]
    assert isinstance(mitigation, dict)
    raw = np.asarray(mitigation["raw_values"])
    assert raw.shape == (2, 1) and np.all(np.isfinite(raw))
    readout = mitigation["readout"]
    assert isinstance(readout, dict)
    np.testing.assert_allclose(readout["p01"], [ERRORS[w].p01 for w in range(3)], atol=0.02)
    assert result.metadata["overhead_shots"] == 2 * 3 * 8192  # two circuits, three wires
    again = backend.run([Task(circuit, (observable,), theta[None, :], 3000, 6)])[0]
    assert again is not None and again.metadata["overhead_shots"] == 0  # cached


def test_sampled_mitigation_spends_exactly_the_tasks_shots_through_the_executor() -> None:
    circuit, observable, theta = case(4)
    backend = qt.Mitigated(qt.LocalSimulator(noise=readout_only()), readout=True)
    estimate = qt.expval(circuit, observable, theta, shots=2000, seed=3, backend=backend)
    assert isinstance(estimate, qt.Estimate)
    assert estimate.shots == 2000 * len(observable.groups())
    ideal = qt.expval(circuit, observable, theta)
    assert abs(estimate.value - ideal) < 5 * estimate.stderr
    same = qt.expval(circuit, observable, theta, shots=2000, seed=3, backend=backend)
    assert isinstance(same, qt.Estimate) and same.value == estimate.value


class ExactOnly:
    """A backend that cannot sample (its limits allow no shots)."""

    name = "exact-only"
    limits = BackendLimits(max_shots=0)

    def __init__(self) -> None:
        self.inner = qt.LocalSimulator(noise=readout_only())

    def run(self, tasks: list[Task]) -> list[qt.Result]:
        return self.inner.run(tasks)


def test_readout_calibration_on_a_backend_without_shots_is_an_error() -> None:
    circuit, observable, theta = case(5)
    backend = qt.Mitigated(ExactOnly(), readout=True)
    with pytest.raises(MitigationError, match="calibration needs 8192 shots"):
        backend.run([Task(circuit, (observable,), theta[None, :], 100, 1)])


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({}, "nothing to mitigate"),
        ({"readout": "yes"}, "readout must be"),
        ({"zne": (1, 3, 5)}, "zne must be"),
    ],
)
def test_bad_mitigated_options_are_refused(options: dict[str, object], match: str) -> None:
    with pytest.raises(MitigationError, match=match):
        qt.Mitigated(qt.LocalSimulator(), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"shots": 1}, "shots must be an int >= 2"),
        ({"calibration": {0: 0.1}}, "mapping"),
        ({"max_age_s": -1}, "max_age_s"),
        ({"seed": -3}, "seed"),
    ],
)
def test_bad_readout_options_are_refused(options: dict[str, object], match: str) -> None:
    with pytest.raises(MitigationError, match=match):
        qt.ReadoutMitigation(**options)  # type: ignore[arg-type]


def test_uninvertible_readout_is_refused_naming_the_wire() -> None:
    bad = {0: readout_error(0.5, 0.45)}
    backend = qt.Mitigated(qt.LocalSimulator(), readout=qt.ReadoutMitigation(calibration=bad))
    with pytest.raises(MitigationError, match="wire 0 is too noisy"):
        backend.run([Task(qt.Circuit(1).h(0), (qt.Z(0),), np.zeros((1, 0)))])


def test_identity_names_the_inner_backend_and_the_options() -> None:
    sim = qt.LocalSimulator(noise=readout_only())
    first = qt.Mitigated(sim, readout=True).identity()
    assert first["inner"] == sim.identity()
    other = qt.Mitigated(sim, readout=qt.ReadoutMitigation(shots=100)).identity()
    assert first != other
    with_zne = qt.Mitigated(sim, readout=True, zne=qt.ZNE()).identity()
    assert with_zne["zne"] == qt.ZNE().describe()
