"""Sampled gradients and values through QiskitBackend: calibrated error bars, seeded numbers.

``qt.grad(..., shots=, seed=, backend=QiskitBackend(AerSimulator()))`` over many seeds on a
small circuit with tied and scaled parameters (and a controlled rotation, whose four-term
rule and Aer's misbinding workaround both matter): each component's z-score against the
exact local gradient must look standard normal, so the reported ``stderr`` is the real
spread of the estimate, through the shift rule and the chain rule ``W = C·M``.

Tolerances (every bound about 4 standard errors of its statistic, so a correct bridge fails
one of the checks below with probability ~1e-3 in all; the seeds are fixed, so a run is
deterministic). Over ``N`` independent seeds the mean of standard normal z-scores has
standard error ``1/√N`` and their standard deviation ``≈ 1/√(2N)``: with ``N = 200``,
0.071 and 0.050, hence ``|mean| < 0.3`` and ``0.8 < sd < 1.2`` per component; pooled over
the components (``3N`` values, independent: each component has its own shifted rows),
0.041 and 0.029, hence ``|mean| < 0.16`` and ``0.88 < sd < 1.12``. The z-scores use the
estimated stderr, not the true one: with ``SHOTS = 400`` per row and group its relative
error is ~4 %, which widens the sd by ~0.1 % and biases the mean by O(1/√SHOTS · skew),
a few hundredths at most — inside the bounds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")

import qtrain as qt
from qtrain.backends.qiskit import QiskitBackend

AerSimulator = pytest.importorskip("qiskit_aer").AerSimulator

SEEDS = range(200)
SHOTS = 400
THETA = np.array([0.4, -1.1, 0.9])


def _problem() -> tuple[qt.Circuit, qt.Observable]:
    """3 qubits, P(0) and P(1) each in two gates (scaled, shifted), 3 measurement groups."""
    circuit = (
        qt.Circuit(3)
        .ry(0, qt.P(0))
        .rx(1, 2 * qt.P(0) + 0.3)
        .cnot(0, 1)
        .ry(2, qt.P(1))
        .crz(1, 2, -0.5 * qt.P(1) + 0.2)
        .rx(0, qt.P(2))
        .cnot(2, 0)
    )
    observable = qt.Observable.parse("0.4 + Z0 Z1 - 0.7 X1 + 0.5 Y2 X0 + 0.3 Z2 + 0.6 Y0 Y1")
    return circuit, observable


def _simulator() -> Any:
    """Aer on one thread: these jobs are tiny (3 qubits, ~40 circuits), and with its default
    OpenMP wait policy Aer's threads spin on a busy machine — 0.24 s per gradient instead of
    0.035 s measured on 2 loaded cores, which would make this file take minutes in CI."""
    return AerSimulator(method="statevector", max_parallel_threads=1)


def _estimate(seed: int, backend: QiskitBackend) -> qt.Estimate:
    circuit, observable = _problem()
    est = qt.expval(circuit, observable, THETA, shots=SHOTS, seed=seed, backend=backend)
    assert isinstance(est, qt.Estimate)
    return est


@pytest.fixture(scope="module")
def aer() -> QiskitBackend:
    return QiskitBackend(_simulator(), seed_transpiler=3)


@pytest.fixture(scope="module")
def exact() -> tuple[Any, float]:
    """The exact local gradient ``(P,)`` and value at ``THETA``."""
    circuit, observable = _problem()
    local = qt.grad(circuit, observable, THETA, method="param-shift")
    assert local.stderr is None
    value = qt.expval(circuit, observable, THETA)
    assert isinstance(value, float)
    return np.asarray(local.value), value


@pytest.fixture(scope="module")
def draws(aer: QiskitBackend) -> dict[str, np.ndarray]:
    """Gradients, their values (``fun``) and ``qt.expval`` estimates for every seed."""
    circuit, observable = _problem()
    out: dict[str, list[Any]] = {k: [] for k in ("g", "g_err", "fun", "fun_err", "ev", "ev_err")}
    for seed in SEEDS:
        g = qt.grad(circuit, observable, THETA, method="param-shift", shots=SHOTS, seed=seed,
                    backend=aer)  # fmt: skip
        out["g"].append(g.value)
        out["g_err"].append(g.stderr)
        out["fun"].append(g.fun)
        out["fun_err"].append(g.fun_stderr)
        est = _estimate(seed, aer)
        out["ev"].append(est.value)
        out["ev_err"].append(est.stderr)
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def _assert_standard_normal(z: np.ndarray, mean_tol: float, sd_low: float, sd_high: float) -> None:
    mean, sd = float(z.mean()), float(z.std(ddof=1))
    assert abs(mean) < mean_tol, f"z mean {mean:.3f} (|·| < {mean_tol})"
    assert sd_low < sd < sd_high, f"z sd {sd:.3f} (in ({sd_low}, {sd_high}))"


def test_problem_is_not_trivial(aer: QiskitBackend, exact: tuple[Any, float]) -> None:
    circuit, observable = _problem()
    assert len(observable.groups()) >= 3
    assert circuit.n_params == 3 and len(circuit.ops) > circuit.n_params  # tied parameters
    gradient, _ = exact
    assert np.all(np.abs(gradient) > 0.05)  # z-scores of components that are not zero
    # and the bridge computes the same exact gradient
    remote = qt.grad(circuit, observable, THETA, method="param-shift", backend=aer)
    np.testing.assert_allclose(remote.value, gradient, atol=1e-10)


def test_gradient_z_scores_are_standard_normal(
    draws: dict[str, np.ndarray], exact: tuple[Any, float]
) -> None:
    gradient, _ = exact
    assert draws["g"].shape == (len(SEEDS), THETA.size)
    assert np.all(draws["g_err"] > 0)
    z = (draws["g"] - gradient) / draws["g_err"]
    for k in range(THETA.size):
        _assert_standard_normal(z[:, k], 0.3, 0.8, 1.2)
    _assert_standard_normal(z.ravel(), 0.16, 0.88, 1.12)
    # the error bar is the spread: the seeds' sd over the typical stderr, per component
    # (the ratio of two ~5 %-accurate estimates: within 4·√2·5 % ≈ 0.28 of 1 → (0.75, 1.3))
    ratio = draws["g"].std(axis=0, ddof=1) / np.sqrt(np.mean(draws["g_err"] ** 2, axis=0))
    assert np.all((ratio > 0.75) & (ratio < 1.3)), ratio


def test_value_z_scores_are_standard_normal(
    draws: dict[str, np.ndarray], exact: tuple[Any, float]
) -> None:
    _, value = exact
    for key in ("ev", "fun"):  # qt.expval's Estimate, and the gradient's unshifted row
        assert np.all(draws[f"{key}_err"] > 0)
        z = (draws[key] - value) / draws[f"{key}_err"]
        _assert_standard_normal(z, 0.3, 0.8, 1.2)


def test_seeds_give_independent_draws(
    draws: dict[str, np.ndarray], exact: tuple[Any, float]
) -> None:
    """Consecutive seeds must not share random streams.

    A seed scheme of ``seed + i`` for the ``i``-th circuit or row of a job would make seed
    ``s + 1`` replay part of seed ``s``'s draws, and ``qt.grad(..., seed=step)`` correlated
    from step to step.

    The lag-1 correlation of the z-scores over seeds 0, 1, 2, … has standard error
    ``1/√N ≈ 0.071``: ``|r| < 0.3``.
    """
    gradient, value = exact
    z = np.column_stack([(draws["g"] - gradient) / draws["g_err"], draws["ev"] - value])
    for column in z.T:
        r = np.corrcoef(column[:-1], column[1:])[0, 1]
        assert abs(r) < 0.3, f"lag-1 correlation {r:.2f} between consecutive seeds"


def test_same_seed_same_numbers_other_seed_other_numbers(aer: QiskitBackend) -> None:
    circuit, observable = _problem()

    def grad(seed: int, backend: QiskitBackend) -> Any:
        return qt.grad(circuit, observable, THETA, method="param-shift", shots=SHOTS,
                       seed=seed, backend=backend)  # fmt: skip

    first, again = grad(7, aer), grad(7, aer)
    fresh = grad(7, QiskitBackend(_simulator(), seed_transpiler=3))
    for other in (again, fresh):  # a warm and a cold transpile cache
        np.testing.assert_array_equal(other.value, first.value)
        np.testing.assert_array_equal(other.stderr, first.stderr)
        assert other.fun == first.fun
    assert first.metadata["seed"] == 7
    different = grad(8, aer)
    assert np.all(different.value != first.value)
    assert np.all(different.stderr != first.stderr)

    est = _estimate(7, aer)
    assert est.seed == 7
    assert _estimate(7, aer) == est
    assert _estimate(8, aer).value != est.value


@pytest.mark.slow
def test_budget_split_gradient_z_scores_are_standard_normal(
    aer: QiskitBackend, exact: tuple[Any, float]
) -> None:
    """A total budget gives rows different shot counts: several PUBs per group.

    100 seeds: per-component bounds of 4 standard errors, ``|mean| < 0.4``, sd in
    ``(0.72, 1.28)``.
    """
    circuit, observable = _problem()
    gradient, _ = exact
    policy = qt.ShotPolicy.total(20_000)
    zs = []
    for seed in range(1000, 1100):
        g = qt.grad(circuit, observable, THETA, method="param-shift", shots=policy, seed=seed,
                    backend=aer)  # fmt: skip
        zs.append((g.value - gradient) / g.stderr)
    shots = g.metadata["shot_matrix"]
    assert len(np.unique(shots)) > 1  # rows really got different counts
    assert int(shots.sum()) <= 20_000
    z = np.asarray(zs)
    for k in range(THETA.size):
        _assert_standard_normal(z[:, k], 0.4, 0.72, 1.28)
