"""A mitigated backend under faults, threads, expiry and careless input: nothing silently wrong."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pytest

import qtrain as qt
from qtrain.backends.protocol import BackendLimits, Result, Task
from qtrain.errors import ConfigError, MitigationError
from qtrain.grad.api import plan_jacobian
from qtrain.mitigation.extrapolation import MitigationWarning
from qtrain.noise.readout import readout_error

NOISE = qt.NoiseModel().after_all(qt.noise.depolarizing(0.05)).readout(readout_error(0.04, 0.08))
CIRCUIT = qt.ansatz.hardware_efficient(3, 1)
H = qt.Observable.parse("Z0 Z1 + 0.5 X2 - 0.3 Z1 + 0.2")
THETA = np.random.default_rng(4).normal(size=CIRCUIT.n_params)


def mitigated(inner: qt.Backend | None = None, **readout: object) -> qt.Mitigated:
    options = qt.ReadoutMitigation(shots=1000, **readout)  # type: ignore[arg-type]
    return qt.Mitigated(
        inner if inner is not None else qt.LocalSimulator(noise=NOISE),
        readout=options,
        zne=qt.ZNE(factors=(1, 3), extrapolation="linear"),
    )


class WithoutTermValues:
    """The local simulator, minus the per-term values capability."""

    name = "no-terms"
    limits = BackendLimits()

    def __init__(self) -> None:
        self.inner = qt.LocalSimulator(noise=NOISE)

    def run(self, tasks: Sequence[Task]) -> list[Result]:
        results = self.inner.run(tasks)
        return [Result(r.values, r.variances, r.shots, {"backend": self.name}) for r in results]


def test_without_term_values_the_calibration_share_is_a_true_upper_bound() -> None:
    task = Task(CIRCUIT, (H,), THETA[None, :], 4000, 3)
    exact = mitigated().run([task])[0]
    with pytest.warns(MitigationWarning, match="upper bound"):
        bounded = mitigated(WithoutTermValues()).run([task])[0]
    assert exact is not None and bounded is not None
    assert exact.variances is not None and bounded.variances is not None
    assert bounded.values[0, 0] == exact.values[0, 0]  # same draws, same estimate
    assert bounded.variances[0, 0] >= exact.variances[0, 0]


def test_impossible_inner_results_are_retried_not_mitigated() -> None:
    faulty = qt.FaultyBackend(
        qt.LocalSimulator(noise=NOISE),
        profile=qt.FaultProfile(impossible_rate=0.5, corrupt_rate=0.3),
        seed=5,
    )
    clean = qt.grad(CIRCUIT, H, THETA, shots=500, seed=2, backend=mitigated())
    executor = qt.Executor(
        mitigated(faulty),
        max_rows=4,
        retry=qt.RetryPolicy(attempts=30, initial_s=0, max_s=0, jitter_s=0),
    )
    shaky = qt.grad(CIRCUIT, H, THETA, shots=500, seed=2, executor=executor)
    np.testing.assert_array_equal(shaky.value, clean.value)
    assert executor.counters.retried > 0


def test_one_calibration_per_call_on_threads() -> None:
    backend = mitigated()
    executor = qt.Executor(backend, max_rows=4, tasks_per_call=1, max_workers=4)
    qt.grad(CIRCUIT, H, THETA, shots=200, seed=1, executor=executor)
    assert executor.counters.overhead_shots == 2 * 3 * 1000  # two circuits, three wires
    assert executor.counters.calls >= 4


def test_results_do_not_depend_on_which_task_came_first() -> None:
    task = Task(CIRCUIT, (H,), THETA[None, :], 2000, 2)
    fresh = mitigated().run([task])[0]
    used = mitigated()
    used.run([Task(CIRCUIT, (H,), -THETA[None, :], 2000, 1)])
    again = used.run([task])[0]
    assert fresh is not None and again is not None
    assert again.values[0, 0] == fresh.values[0, 0]


def test_an_expiring_calibration_is_priced_and_measured_again() -> None:
    backend = mitigated(max_age_s=0.05)
    task = Task(CIRCUIT, (H,), THETA[None, :], 100, 1)
    assert backend.overhead([task]).calibration_shots == 6000
    assert backend.prepare([task]) == 6000
    assert backend.overhead([task]).calibration_shots == 0
    time.sleep(0.1)
    assert backend.overhead([task]).calibration_shots == 6000
    assert backend.prepare([task]) == 6000


def test_local_folding_that_cannot_reach_distinct_factors_is_refused() -> None:
    backend = qt.Mitigated(
        qt.LocalSimulator(noise=NOISE), zne=qt.ZNE(factors=(1, 1.4, 2), folding="local")
    )
    two_gates = qt.Circuit(1).ry(0, qt.P(0)).rz(0, 0.3)
    with pytest.raises(MitigationError, match="two are the same circuit"):
        qt.expval(two_gates, qt.Z(0), [0.5], backend=backend)


def test_a_given_calibration_must_cover_the_circuit() -> None:
    snapshot = qt.Calibration(
        id="one-qubit",
        timestamp="2026-12-07T10:00:00",
        t1=(1e-4,),
        t2=(8e-5,),
        readout_p01=(0.02,),
        readout_p10=(0.05,),
    )
    backend = qt.Mitigated(qt.LocalSimulator(), readout=qt.ReadoutMitigation(calibration=snapshot))
    with pytest.raises(MitigationError, match=r"wires \[1, 2\] would go unmitigated"):
        qt.expval(CIRCUIT, H, THETA, backend=backend)
    outside = qt.ReadoutMitigation(calibration={5: readout_error(0.1, 0.1)})
    with pytest.raises(MitigationError, match=r"wire\(s\) \[5\]"):
        qt.expval(CIRCUIT, H, THETA, backend=qt.Mitigated(qt.LocalSimulator(), readout=outside))


def test_careless_inputs_are_refused() -> None:
    with pytest.raises(ConfigError, match="backend instance"):
        qt.Mitigated(qt.LocalSimulator, readout=True)  # type: ignore[arg-type]
    with pytest.raises(MitigationError, match="sequence of numbers"):
        qt.ZNE(factors="135")  # type: ignore[arg-type]
    with pytest.raises(MitigationError, match="max_age_s"):
        qt.ReadoutMitigation(max_age_s=True)
    listed = qt.ZNE(factors=(1, 2, 3), folding="local", extrapolation=["polynomial", 2])  # type: ignore[arg-type]
    assert hash(listed) == hash(
        qt.ZNE(factors=(1, 2, 3), folding="local", extrapolation=("polynomial", 2))
    )


class Recording:
    """A backend that records what it was asked to cancel."""

    name = "recording"
    limits = BackendLimits()

    def __init__(self) -> None:
        self.inner = qt.LocalSimulator()
        self.cancelled: list[Sequence[Task]] = []
        self.last: Sequence[Task] | None = None
        self.owner: qt.Mitigated | None = None
        self.outer: Sequence[Task] | None = None

    def run(self, tasks: Sequence[Task]) -> list[Result]:
        assert self.owner is not None and self.outer is not None
        self.owner.cancel(self.outer)  # as the executor would, from its timeout thread
        self.last = tasks
        return self.inner.run(tasks)

    def cancel(self, tasks: Sequence[Task]) -> None:
        self.cancelled.append(tasks)


def test_cancel_reaches_the_inner_call() -> None:
    recording = Recording()
    backend = qt.Mitigated(recording, zne=qt.ZNE(factors=(1, 3)))
    outer = [Task(CIRCUIT, (H,), THETA[None, :])]
    recording.owner, recording.outer = backend, outer
    backend.run(outer)
    assert len(recording.cancelled) == 1 and len(recording.cancelled[0]) == 2  # two factors


@pytest.mark.slow
def test_gradient_error_bars_carry_the_calibration_error_shared_by_all_rows() -> None:
    """One calibration error moves every shifted row: its offset part cancels in the
    differences, its scale part adds up. The gradient's stderr follows both; summing the rows'
    variances as if independent (``naive``) is 10× too wide on ∂⟨Z1⟩/∂θ1 here."""
    noisy = qt.LocalSimulator(noise=qt.NoiseModel().readout(readout_error(0.08, 0.12)))
    circuit = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1).ry(1, qt.P(1))
    theta = np.array([np.pi / 2, 0.0])
    for observable in (qt.Z(0) @ qt.Z(1), qt.Z(1)):
        values, errors, naive = [], [], []
        for seed in range(200):
            backend = qt.Mitigated(noisy, readout=qt.ReadoutMitigation(shots=300, seed=seed))
            tasks, assemble = plan_jacobian(
                circuit, [observable], theta, method="param-shift", shots=100_000, seed=seed
            )
            (result,) = qt.Executor(backend).run(tasks)
            g = assemble([result])
            assert g.stderr is not None and result.variances is not None
            values.append(g.value[0])
            errors.append(g.stderr[0])
            naive.append(np.sqrt((assemble.weights**2).T @ result.variances[:, 0]))
        spread = np.std(values, axis=0)
        np.testing.assert_array_less(0.8 * spread, np.mean(errors, axis=0))
        np.testing.assert_array_less(np.mean(errors, axis=0), 1.25 * spread)
        if observable == qt.Z(1):
            assert np.mean(naive, axis=0)[1] > 5 * spread[1]  # what the shared error fixes
