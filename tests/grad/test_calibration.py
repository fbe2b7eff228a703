"""Calibration of the gradient layer's error bars: z-scores over many seeded evaluations.

For every error bar ``qt.grad`` / ``qt.jacobian`` / ``qt.hessian`` report (parameter shift
with two- and four-term rules through tied and scaled parameters, finite differences forward
and central, SPSA, the Hessian, and ``covariance=True``), ``M`` seeded evaluations give
``z = (estimate − reference) / stderr`` per component; calibrated error bars give z with mean
0 and standard deviation 1, and the estimates themselves average to the reference.

The reference is the exact expectation of the *estimator*: the adjoint gradient and the exact
Hessian for the shift rules (they are exact), the same finite difference without shots (its
O(h) or O(h²) truncation belongs to the estimator, not to its noise), and for SPSA the exact
average over all ``2^P`` directions (its stderr is the spread of the per-direction estimates,
so it covers the direction randomness as well as the shots).

Tolerances: with ``M = 400`` the mean of z must lie within ``4/√M = 0.2`` of 0 and its
standard deviation within 0.15 of 1 (four standard errors of a sample sd, ``1/√(2M)``, with
room for the heavier tails of a studentised z); the empirical variance of the estimates must
match the mean reported ``stderr²`` within four of its standard errors (about 28 %). A stderr
20 % too small gives a z sd of about 1.25 and a variance ratio of 1.44; 20 % too large a z sd
of about 0.83 and a ratio of 0.69: both fail. Rows get few shots (50–100) so that the
variance estimator's own noise shows. Every evaluation is seeded: the tests are
deterministic.
"""

import functools
import itertools

import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import GradientError

M = 400
MEAN_TOL = 4 / np.sqrt(M)  # 0.2
STD_TOL = 0.15

# θ0 feeds three gates (once scaled by 2 with an offset, once together with θ1), θ1 three:
# rows are shared between the two components. Two measurement groups ({Z0 Z1, Z0}, {X1}).
TIED = (
    qt.Circuit(2)
    .ry(0, qt.P(0))
    .rx(1, 2 * qt.P(0) + 0.3)
    .cnot(0, 1)
    .ry(1, qt.P(1))
    .rz(0, -0.5 * qt.P(1))
    .rx(0, qt.P(0) - qt.P(1))
)
TIED_H = qt.Observable.parse("Z0 Z1 + 0.5 X1 - 0.3 Z0")

# Four-term rules (CRX, CRY, CRZ) and CPhase (one frequency: a two-term rule) tied to CRZ's
# and RY's parameters. Two groups ({Z0, X1}, {X0 Y1}).
FOUR = (
    qt.Circuit(2)
    .ry(0, qt.P(0))
    .h(1)
    .crx(0, 1, qt.P(1))
    .cry(1, 0, qt.P(2))
    .crz(0, 1, qt.P(3))
    .cphase(0, 1, qt.P(0) + qt.P(3))
)
FOUR_H = qt.Observable.parse("Z0 + 0.7 X1 + 0.4 X0 Y1")

# Generic points, and points near |00⟩ where several rows' values sit near their extremes
# (small per-shot variance, so the plug-in variance estimate is at its noisiest).
CASES = {
    "tied-generic": (TIED, TIED_H, np.array([0.7, -1.1])),
    "tied-near-extreme": (TIED, TIED_H, np.array([0.05, 0.1])),
    "four-term-generic": (FOUR, FOUR_H, np.array([0.9, -0.6, 1.3, 0.4])),
    "four-term-near-extreme": (FOUR, FOUR_H, np.array([0.05, 0.1, -0.05, 0.1])),
}


def seeds(base, count=M):
    return range(base, base + count)


def stacked(results, field="value"):
    """``(M, K)``: one row per evaluation, the components flattened."""
    return np.array([np.ravel(getattr(r, field)) for r in results])


def zscores(results, reference, field="value", error="stderr"):
    values, stderr = stacked(results, field), stacked(results, error)
    assert np.all(stderr > 0), "a sampled component reported no error"
    return (values - np.ravel(reference)) / stderr


def assert_calibrated(z, expected_std=1.0):
    mean, std = z.mean(axis=0), z.std(axis=0, ddof=1)
    assert np.all(np.abs(mean) < MEAN_TOL), f"mean z {np.round(mean, 3)}"
    assert np.all(np.abs(std - expected_std) < STD_TOL), f"std z {np.round(std, 3)}"


def assert_unbiased(results, reference, field="value"):
    """The estimates average to the reference within four standard errors of their mean."""
    values = stacked(results, field)
    spread = values.std(axis=0, ddof=1)
    error = values.mean(axis=0) - np.ravel(reference)
    assert np.all(np.abs(error) < 4 * spread / np.sqrt(len(values))), error


def assert_variance_predicted(results):
    """``mean(stderr²)`` predicts the spread of the estimates (an unbiased variance check).

    The sample variance of M draws with kurtosis κ has relative standard error
    ``√((κ − 1)/M)`` (0.07 for normal draws, M = 400); the tolerance is four of them. A stderr
    20 % too large (small) moves the ratio to 0.69 (1.44).
    """
    values, stderr = stacked(results), stacked(results, "stderr")
    centred = values - values.mean(axis=0)
    kurtosis = np.mean(centred**4, axis=0) / np.mean(centred**2, axis=0) ** 2
    tol = 4 * np.sqrt((kurtosis - 1) / len(values))
    ratio = values.var(axis=0, ddof=1) / np.mean(stderr**2, axis=0)
    assert np.all(np.abs(ratio - 1) < tol), f"empirical / reported variance {np.round(ratio, 3)}"


# --- parameter shift ---------------------------------------------------------------------
# Runs are cached (and ask for the covariance) so that the covariance tests below reuse them.


@functools.cache
def param_shift_runs(case):
    circuit, observable, theta = CASES[case]
    return tuple(
        qt.grad(circuit, observable, theta, method="param-shift", shots=50, seed=s, covariance=True)
        for s in seeds(1000)
    )


JACOBIAN_OBSERVABLES = (FOUR_H, qt.Observable.parse("0.6 Z0 Z1 - 0.9 Y0"))


@functools.cache
def jacobian_runs():
    theta = CASES["four-term-generic"][2]
    return tuple(
        qt.jacobian(
            FOUR,
            JACOBIAN_OBSERVABLES,
            theta,
            method="param-shift",
            shots=50,
            seed=s,
            covariance=True,
        )
        for s in seeds(2000)
    )


@pytest.mark.parametrize("case", list(CASES))
def test_param_shift_zscores_are_standard_normal(case):
    circuit, observable, theta = CASES[case]
    exact = qt.grad(circuit, observable, theta, method="adjoint").value
    results = param_shift_runs(case)
    assert_calibrated(zscores(results, exact))
    assert_unbiased(results, exact)
    assert_variance_predicted(results)
    # The value row is measured too; its error bar is reported as fun_stderr.
    fun = qt.expval(circuit, observable, theta)
    assert_calibrated(zscores(results, [fun], field="fun", error="fun_stderr"))


def test_param_shift_jacobian_of_observables_sharing_rows_is_calibrated():
    """Two observables measured on the same rows: every (o, k) entry has an honest error."""
    theta = CASES["four-term-generic"][2]
    exact = qt.jacobian(FOUR, JACOBIAN_OBSERVABLES, theta, method="adjoint").value
    results = jacobian_runs()
    assert results[0].value.shape == (2, 4)
    assert_calibrated(zscores(results, exact))
    assert_unbiased(results, exact)
    assert_variance_predicted(results)


# --- finite differences ------------------------------------------------------------------

FD_STEP = 0.2


@functools.cache
def finite_diff_runs(scheme):
    theta = CASES["four-term-generic"][2]
    return tuple(
        qt.grad(
            FOUR,
            FOUR_H,
            theta,
            method="finite-diff",
            step=FD_STEP,
            scheme=scheme,
            shots=100,
            seed=s,
            covariance=True,
        )
        for s in seeds(3000)
    )


@pytest.mark.parametrize("scheme", ["central", "forward"])
def test_finite_diff_zscores_are_standard_normal(scheme):
    """Weights ±1/2h (central) or ±1/h (forward, row 0 shared by every component)."""
    theta = CASES["four-term-generic"][2]
    options = {"method": "finite-diff", "step": FD_STEP, "scheme": scheme}
    expected = qt.grad(FOUR, FOUR_H, theta, **options).value  # the estimator's own mean
    results = finite_diff_runs(scheme)
    assert_calibrated(zscores(results, expected))
    assert_unbiased(results, expected)
    assert_variance_predicted(results)


# --- SPSA --------------------------------------------------------------------------------


def spsa_circuit(n_params):
    c = qt.Circuit(3)
    for k in range(n_params):
        c = c.ry(k % 3, qt.P(k)) if k % 2 else c.rx(k % 3, qt.P(k))
        if k % 3 == 2:
            c = c.cnot(0, 1).cnot(1, 2)
    return c


SPSA_H = qt.Observable.parse("Z0 Z1 + 0.5 X2 - 0.3 Z1")
SPSA_STEP = 0.15


def spsa_expectation(circuit, observable, theta, step):
    """The exact mean of one SPSA direction's estimate: the average over all 2^P directions."""
    directions = np.array(list(itertools.product([-1.0, 1.0], repeat=theta.size)))
    plus = qt.expval(circuit, observable, theta + step * directions)
    minus = qt.expval(circuit, observable, theta - step * directions)
    return np.mean(((plus - minus) / (2 * step))[:, None] * directions, axis=0)


def spsa_results(n_params, directions, shots, base):
    circuit = spsa_circuit(n_params)
    theta = np.linspace(-1.0, 1.2, n_params)
    reference = spsa_expectation(circuit, SPSA_H, theta, SPSA_STEP)
    results = [
        qt.grad(
            circuit,
            SPSA_H,
            theta,
            method="spsa",
            directions=directions,
            step=SPSA_STEP,
            shots=shots,
            seed=s,
        )
        for s in seeds(base)
    ]
    return results, reference


def t_std(directions):
    """The sd of a t statistic with ``n − 1`` degrees of freedom (stderr = spread / √n)."""
    return float(np.sqrt((directions - 1) / (directions - 3)))


def test_spsa_exact_rows_stderr_covers_the_direction_randomness():
    results, reference = spsa_results(n_params=6, directions=16, shots=None, base=4000)
    assert_calibrated(zscores(results, reference), expected_std=t_std(16))
    assert_unbiased(results, reference)
    assert_variance_predicted(results)


def test_spsa_sampled_with_distinct_directions_is_calibrated():
    """P = 12: 2048 directions up to sign, so 16 draws rarely repeat one."""
    results, reference = spsa_results(n_params=12, directions=16, shots=50, base=5000)
    assert_calibrated(zscores(results, reference), expected_std=t_std(16))
    assert_unbiased(results, reference)
    assert_variance_predicted(results)


def test_spsa_sampled_with_every_direction_is_calibrated():
    """P = 4 has 8 directions up to sign; drawing all 8 leaves only the shot noise.

    Repeated directions used to share one measurement (rows are measured by content), so the
    spread understated the error (z sd 1.6–3.0 at 32 draws); they are now distinct, and the
    finite-population correction removes the direction part when all were drawn.
    """
    results, reference = spsa_results(n_params=4, directions=8, shots=50, base=6000)
    assert_variance_predicted(results)
    # Only shot noise is left, and its variance comes from the rows: no t-distribution.
    assert_calibrated(zscores(results, reference))
    assert_unbiased(results, reference)


def test_spsa_refuses_more_directions_than_there_are():
    circuit, theta = spsa_circuit(4), np.linspace(-1.0, 1.2, 4)
    with pytest.raises(GradientError, match="8 distinct direction"):
        qt.grad(circuit, SPSA_H, theta, method="spsa", directions=9, seed=1)


def test_spsa_covariance_is_reported():
    circuit, theta = spsa_circuit(4), np.linspace(-1.0, 1.2, 4)
    g = qt.grad(
        circuit, SPSA_H, theta, method="spsa", directions=6, shots=50, seed=1, covariance=True
    )
    assert g.covariance is not None and g.covariance.shape == (4, 4)
    np.testing.assert_allclose(np.diag(g.covariance), g.stderr**2)
    np.testing.assert_allclose(g.covariance, g.covariance.T)


# --- Hessian -----------------------------------------------------------------------------


@pytest.mark.slow  # 400 Hessians of 51 and 117 rows: 4–8 s each
@pytest.mark.parametrize("case", ["tied-generic", "four-term-near-extreme"])
def test_hessian_zscores_are_standard_normal(case):
    circuit, observable, theta = CASES[case]
    exact = qt.hessian(circuit, observable, theta).value
    results = [qt.hessian(circuit, observable, theta, shots=100, seed=s) for s in seeds(7000)]
    upper = np.triu_indices(theta.size)  # the matrix is symmetric by construction
    z = zscores(results, exact).reshape(M, theta.size, theta.size)[:, upper[0], upper[1]]
    assert_calibrated(z)
    assert_unbiased(results, exact)
    assert_variance_predicted(results)


# --- covariance=True ---------------------------------------------------------------------


def assert_covariance_matches(results, axis_shape):
    """The mean reported covariance against the empirical one, entry by entry and whitened.

    An entry of a sample covariance of M draws has standard error
    ``√((σ_i² σ_j² + σ_ij²) / M)``; the tolerance is four of them. The whitened check uses each
    evaluation's own reported covariance: ``e = estimate − mean``, ``d² = eᵀ Σ̂⁻¹ e`` averages
    to the dimension when Σ̂ is right (it ignores nothing: dropping the off-diagonal terms of a
    correlated pair moves it by their correlation).
    """
    values = stacked(results)
    reported = np.array([np.asarray(r.covariance).reshape(axis_shape) for r in results])
    for block in range(reported.shape[1]):
        cols = slice(block * reported.shape[2], (block + 1) * reported.shape[2])
        empirical = np.cov(values[:, cols], rowvar=False)
        mean_reported = reported[:, block].mean(axis=0)
        var = np.diag(empirical)
        se = np.sqrt((np.outer(var, var) + empirical**2) / len(values))
        assert np.all(np.abs(empirical - mean_reported) < 4 * se), (empirical, mean_reported)
        errors = values[:, cols] - values[:, cols].mean(axis=0)
        d2 = np.einsum("mi,mij,mj->m", errors, np.linalg.inv(reported[:, block]), errors)
        dim = reported.shape[2]
        assert abs(d2.mean() / dim - 1) < 4 * np.sqrt(2 / (dim * len(values))) + 0.05, d2.mean()


def test_param_shift_covariance_matches_the_empirical_covariance():
    """TIED's rx(0, θ0 − θ1) rows move both components: they are correlated."""
    results = param_shift_runs("tied-generic")
    cov = np.mean([r.covariance for r in results], axis=0)
    assert abs(cov[0, 1]) / np.sqrt(cov[0, 0] * cov[1, 1]) > 0.1  # there is something to get
    for r in results[:5]:
        np.testing.assert_allclose(np.diag(r.covariance), r.stderr**2, rtol=1e-12)
    assert_covariance_matches(results, (1, 2, 2))


def test_finite_diff_forward_covariance_matches_the_empirical_covariance():
    """Every forward difference subtracts the same value row: strong positive correlation."""
    results = finite_diff_runs("forward")
    cov = np.mean([r.covariance for r in results], axis=0)
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    assert corr[np.triu_indices(4, 1)].min() > 0.3
    assert_covariance_matches(results, (1, 4, 4))


def test_jacobian_covariance_per_observable_matches_the_empirical_covariance():
    results = jacobian_runs()
    assert results[0].covariance.shape == (2, 4, 4)
    assert_covariance_matches(results, (2, 4, 4))
