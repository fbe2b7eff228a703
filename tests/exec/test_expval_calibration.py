"""Calibration of ``qt.expval``'s error bar through the public API: z-scores over many seeds.

``tests/sim/test_measure.py`` checks the sampler's z-scores at 400–500 shots on a generic
point. These tests go where the plug-in variance estimate is weakest: few shots, several
measurement groups, and values near an extreme eigenvalue, where the per-shot variance is
small and the sample variance of a handful of rare outcomes is itself very noisy. The plug-in
failed there (issue 13: stderr 0 whenever every shot agreed); ``sim.measure.Spread`` now uses
the Laplace ``p̃ = (k + 1)/(N + 2)`` for two-level groups and a one-shot-off floor otherwise.

With ``M = 400`` seeds: the mean of z within ``4/√M = 0.2`` of 0, its sd within 0.15 of 1,
the empirical variance of the estimates within 25 % of the mean reported ``stderr²`` (a
stderr 20 % too small gives a z sd of 1.25; 20 % too large a variance ratio of 0.69), and
``±2·stderr`` covering the exact value 95.45 % ± 4.2 % of the time.
"""

import numpy as np
from scipy import stats

import qtrain as qt

M = 400
MEAN_TOL = 4 / np.sqrt(M)
STD_TOL = 0.15
COVERAGE_TOL = 4 * np.sqrt(0.0455 * 0.9545 / M)  # 0.042

SINGLE = qt.Circuit(1).ry(0, qt.P(0))


def estimates(circuit, observable, theta, shots, base):
    results = [
        qt.expval(circuit, observable, theta, shots=shots, seed=s) for s in range(base, base + M)
    ]
    return np.array([r.value for r in results]), np.array([r.stderr for r in results])


def skew_shift(probabilities, eigenvalues, shots):
    """``|γ| / (2√N)``: how far the mean of a studentised mean of skewed samples moves from 0.

    For samples of skewness γ, ``(x̄ − μ)/(s/√N)`` has mean ``−γ/(2√N) + O(1/N)`` (Hall, *The
    Bootstrap and Edgeworth Expansion*, 1992, §2.6): an honest stderr still gives a mean z
    offset near an extreme, where the outcomes are very skewed.
    """
    mean = probabilities @ eigenvalues
    centred = eigenvalues - mean
    gamma = (probabilities @ centred**3) / (probabilities @ centred**2) ** 1.5
    return abs(gamma) / (2 * np.sqrt(shots))


def assert_calibrated(values, stderr, exact, *, mean_tol=MEAN_TOL):
    assert np.all(stderr > 0), f"{np.sum(stderr == 0)} of {M} estimates report stderr 0"
    z = (values - exact) / stderr
    assert abs(z.mean()) < mean_tol, f"mean z {z.mean():.3f}"
    assert abs(z.std(ddof=1) - 1) < STD_TOL, f"std z {z.std(ddof=1):.3f}"
    ratio = values.var(ddof=1) / np.mean(stderr**2)
    assert abs(ratio - 1) < 0.25, f"empirical / reported variance {ratio:.3f}"
    coverage = np.mean(np.abs(z) <= 2)  # nominal 95.45 %; a skewed z misses on one side
    assert abs(coverage - 0.9545) < COVERAGE_TOL, f"±2·stderr covers {coverage:.3f}"
    assert abs(values.mean() - exact) < 4 * values.std(ddof=1) / np.sqrt(M)  # unbiased


def test_expval_zscores_with_few_shots_and_three_groups():
    """Z, X and Y terms: three groups measured independently, 50 shots each."""
    circuit = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1).rx(1, qt.P(1)).ry(1, 0.4)
    observable = qt.Observable.parse("0.8 Z0 Z1 - 0.6 X1 + 0.5 Y1 + 0.3 Z0 + 0.2")
    assert len(observable.groups()) == 3
    theta = np.array([0.35, -0.5])
    exact = qt.expval(circuit, observable, theta)
    values, stderr = estimates(circuit, observable, theta, 50, base=100)
    assert_calibrated(values, stderr, exact)


def test_expval_zscores_near_an_extreme_with_enough_rare_outcomes():
    """⟨Z⟩ = 0.9 with 400 shots: about 20 outcomes −1 per estimate, enough for the plug-in."""
    theta = np.array([np.arccos(0.9)])
    values, stderr = estimates(SINGLE, qt.Z(0), theta, 400, base=200)
    shift = skew_shift(np.array([0.95, 0.05]), np.array([1.0, -1.0]), 400)
    assert_calibrated(values, stderr, 0.9, mean_tol=MEAN_TOL + shift)


def test_expval_zscores_near_an_extreme_with_five_rare_outcomes():
    """⟨Z⟩ = 0.9 with 100 shots: 5 outcomes −1 expected per estimate.

    The plug-in ``p̂(1 − p̂)`` gave z sd 1.15, ±2σ coverage 0.89 and stderr 0 in 3 of 400
    estimates of these seeds; Laplace's ``p̃`` gives 1.06 and 0.96, and never 0.
    """
    theta = np.array([np.arccos(0.9)])
    values, stderr = estimates(SINGLE, qt.Z(0), theta, 100, base=300)
    shift = skew_shift(np.array([0.95, 0.05]), np.array([1.0, -1.0]), 100)
    assert_calibrated(values, stderr, 0.9, mean_tol=MEAN_TOL + shift)


def test_expval_error_bar_is_never_overconfident_with_almost_no_rare_outcomes():
    """⟨Z⟩ = 0.9 with 50 shots: 2.5 outcomes −1 expected, none in 7.7 % of estimates.

    No symmetric error bar is calibrated here (Brown, Cai & DasGupta, Stat. Sci. 16, 101
    (2001)); it must at least not claim more than it knows: never 0 and z sd not above 1.
    Its ±2·stderr coverage is a property of the estimator, summed exactly over the binomial
    count of rare outcomes (0.920 here, against 0.955 for a normal z); the sampled coverage
    must agree with it.
    """
    theta = np.array([np.arccos(0.9)])
    values, stderr = estimates(SINGLE, qt.Z(0), theta, 50, base=400)
    assert np.all(stderr > 0), f"{np.sum(stderr == 0)} of {M} estimates report stderr 0"
    z = (values - 0.9) / stderr
    assert z.std(ddof=1) < 1 + STD_TOL, f"std z {z.std(ddof=1):.3f}"
    rare = np.arange(51)
    tilde = (rare + 1) / 52
    exact_z = ((50 - 2 * rare) / 50 - 0.9) / np.sqrt(4 * tilde * (1 - tilde) / 50)
    exact = float(stats.binom.pmf(rare, 50, 0.05) @ (np.abs(exact_z) <= 2))
    assert exact > 0.9  # the estimator's own coverage, computed without sampling
    coverage = np.mean(np.abs(z) <= 2)
    slack = 4 * np.sqrt(exact * (1 - exact) / M)
    assert coverage > exact - slack, f"±2·stderr covers {coverage:.3f}, exactly {exact:.3f}"
