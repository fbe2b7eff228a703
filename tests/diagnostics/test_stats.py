import numpy as np
import pytest
import scipy
from scipy import stats

from qtrain.diagnostics.stats import estimate_variance, fit_decay

# scipy >= 1.15 names the generator `rng` (SPEC 7); before, `random_state`
SCIPY_RNG = (
    "rng" if tuple(map(int, scipy.__version__.split(".")[:2])) >= (1, 15) else "random_state"
)


def product_gradients(rng, draws, n):
    """∂C/∂θ₀ of the global cost on a product of RY rotations: ½ sin θ₀ Π cos²(θ_i/2)."""
    theta = rng.uniform(0, 2 * np.pi, (draws, n))
    return 0.5 * np.sin(theta[:, 0]) * np.prod(np.cos(theta[:, 1:] / 2) ** 2, axis=1)


@pytest.mark.parametrize(
    ("n", "true"),
    [(1, 1 / 8), (3, (1 / 8) * (3 / 8) ** 2)],  # kurtosis 1.5 and 5.7: chi-square fails both
)
def test_bca_interval_coverage_over_repetitions(n, true):
    """Over 200 repetitions of 200 draws the 95 % interval holds the true variance at its rate."""
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(200):
        draws = product_gradients(rng, 200, n)[:, None]
        estimate = estimate_variance(draws, rng=rng, resamples=1000)
        hits += estimate.low[0] <= true <= estimate.high[0]
    assert 0.90 <= hits / 200 <= 0.99  # binomial(200, 0.95): ±3 standard errors


def test_pooled_and_component_estimates():
    rng = np.random.default_rng(1)
    draws = rng.normal(size=(4000, 3)) * np.array([1.0, 2.0, 3.0])
    estimate = estimate_variance(draws, rng=rng, resamples=500)
    np.testing.assert_allclose(estimate.variance, np.var(draws, axis=0, ddof=1))
    assert estimate.pooled[0] == pytest.approx(estimate.variance.mean())
    assert np.all(estimate.low < [1, 4, 9]) and np.all(estimate.high > [1, 4, 9])
    assert estimate.pooled[1] < 14 / 3 < estimate.pooled[2]
    assert estimate.replicates.shape == (500,)


def test_shot_noise_is_subtracted():
    """Draws ĝ = g + noise with known σ²: the estimate is of Var g, not of Var ĝ."""
    rng = np.random.default_rng(2)
    signal = rng.normal(0, 0.1, size=(20000, 1))
    sigma = rng.uniform(0.1, 0.3, size=(20000, 1))
    noisy = signal + rng.normal(size=signal.shape) * sigma
    estimate = estimate_variance(noisy, sigma**2, rng=rng, resamples=300)
    spread = np.var(noisy, ddof=1) * np.sqrt(2 / noisy.shape[0])  # s.e. of the sample variance
    assert abs(estimate.variance[0] - 0.01) < 4 * spread
    assert estimate.low[0] < 0.01 < estimate.high[0]
    assert np.var(noisy, ddof=1) > 3 * 0.01


def scipy_bca(draws, noise, *, resamples, rng):
    """scipy.stats.bootstrap(method="BCa") of the same statistic, the pooled mean appended."""

    def statistic(g, s, axis=-1):
        n = g.shape[axis]
        variance = (np.sum(g**2, axis) - np.sum(g, axis) ** 2 / n) / (n - 1) - np.sum(s, axis) / n
        return np.concatenate([variance, variance.mean(axis=0, keepdims=True)])

    return stats.bootstrap(
        (draws.T, noise.T),
        statistic,
        n_resamples=resamples,
        paired=True,
        vectorized=True,
        axis=-1,
        method="BCa",
        **{SCIPY_RNG: rng},
    )


@pytest.mark.parametrize(("draws", "width"), [(200, 1), (300, 3)])
def test_bca_equals_scipy_bootstrap_on_the_same_resamples(draws, width):
    """Ours is scipy's BCa (same resample indices from the same rng, same z0, a and quantiles).

    Kept for speed and for degenerate columns (docs/decisions.md): scipy takes 5-70x longer
    with several components and gives NaN where every draw is equal.
    """
    data = np.random.default_rng(3).standard_normal((draws, width)) ** 3
    noise = np.random.default_rng(4).uniform(0, 0.01, (draws, width))
    ours = estimate_variance(data, noise, resamples=1000, rng=np.random.default_rng(5))
    theirs = scipy_bca(data, noise, resamples=1000, rng=np.random.default_rng(5))
    low, high = theirs.confidence_interval
    np.testing.assert_allclose(ours.low, low[:width], rtol=1e-12)
    np.testing.assert_allclose(ours.high, high[:width], rtol=1e-12)
    np.testing.assert_allclose(ours.pooled[1:], (low[-1], high[-1]), rtol=1e-12)
    np.testing.assert_allclose(ours.replicates, theirs.bootstrap_distribution[-1], rtol=1e-12)


def test_constant_draws_give_a_zero_width_interval():
    estimate = estimate_variance(np.zeros((50, 1)), rng=np.random.default_rng(0), resamples=200)
    assert estimate.pooled == (0.0, 0.0, 0.0)


def replicates(variance, rel, rng, count=2000):
    return variance * np.exp(rng.normal(0, rel, (count, variance.size)))


def test_fit_recovers_an_exponential_rate_and_flags_it():
    rng = np.random.default_rng(3)
    n = np.arange(2.0, 9.0)
    variance = 0.5 * np.exp(-0.9 * n)
    fit = fit_decay(n, variance, replicates(variance, 0.05, rng))
    assert fit.rate == pytest.approx(0.9, abs=1e-9) and fit.rate_low < 0.9 < fit.rate_high
    assert fit.intercept == pytest.approx(np.log(0.5))
    assert fit.shape == "exponential" and fit.plateau


def test_fit_tells_a_power_law_from_an_exponential():
    rng = np.random.default_rng(4)
    n = np.arange(2.0, 9.0)
    variance = 1 / (8 * n**2)  # the local cost on a product ansatz
    fit = fit_decay(n, variance, replicates(variance, 0.05, rng))
    assert fit.rate_low > 0  # the best exponential slope is positive ...
    assert fit.power == pytest.approx(2.0, abs=1e-9)
    assert fit.shape == "polynomial" and not fit.plateau  # ... but it is not exponential


def test_fit_flat_and_undetermined_series():
    rng = np.random.default_rng(5)
    flat = np.full(5, 0.05)
    fit = fit_decay(np.arange(2.0, 7.0), flat, replicates(flat, 0.1, rng))
    assert fit.rate_low < 0 < fit.rate_high and fit.shape == "none" and not fit.plateau
    two = np.array([0.1, 0.01])
    short = fit_decay(np.array([2.0, 6.0]), two, replicates(two, 0.05, rng))
    assert short.shape == "undetermined" and not short.plateau and short.rate > 0
