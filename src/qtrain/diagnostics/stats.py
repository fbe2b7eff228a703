"""The statistics of a variance scan: bootstrap intervals and the exponential-decay fit.

**Variance and its interval.** For ``N`` draws of a gradient component ``g`` the estimate is
the unbiased sample variance ``s² = Σ(g − ḡ)²/(N − 1)``; with shots, the mean squared
standard error of the draws is subtracted (``Var ĝ = Var g + E σ²_shot``), so the estimate
is of the gradient's own variance. Its 95 % interval is a **bias-corrected and accelerated
(BCa) bootstrap** interval (Efron, JASA 82, 171 (1987); Efron & Tibshirani 1993, ch. 14),
not the chi-square interval ``(N−1)s²/χ²``: that one is exact only for Gaussian draws, and
gradient draws are not Gaussian — ``½ sin θ`` has kurtosis 1.5, products of ``cos²`` factors
are heavy-tailed — so its coverage is wrong in both directions on exactly the analytic cases
(measured in ``docs/decisions.md``). The bootstrap resamples the draws (``B`` multinomial
count vectors, so every statistic is a matrix product), the bias correction comes from the
share of resamples below the estimate, and the acceleration from the jackknife.

This is ``scipy.stats.bootstrap(method="BCa", paired=True)``: given the same generator it
draws the same resample indices and its bounds agree to ~1e-14 (tested, and
``bench/coverage_variance_ci.py --scipy``). It is kept because scipy materialises every resample
and every jackknife sample (``(K, B, N)`` and ``(K, N, N−1)`` arrays, where the matrix
products and closed-form jackknife here stay ``O(K·N)`` in memory): at ``B`` = 2000 it was
about 20x slower with 40x the memory for 48 components of 200 draws, 15x slower with 9x the
memory for 8 components of 2000 draws; and because it returns NaN with a warning for a
component whose draws are all equal, where this gives the zero-width interval ``[0, 0]``.

**Decay.** Per (depth, cost, init) series over qubit counts, ``log Var = a − r·n`` is fitted
by weighted least squares (weights ``1/se²`` of ``log s²``, from the bootstrap). The rate
``r = ln b`` (``Var ∝ b^{−n}``) gets a percentile interval from refitting every bootstrap
replicate (the points' replicates are independent). A power law ``log Var = c − p·log n`` is
fitted the same way; with equal parameter counts, the smaller weighted residual is the
better model (AIC). A barren plateau is flagged when the rate's interval lies above zero
**and** the exponential fits at least as well as the power law — so a local cost whose
variance falls like ``1/n²`` is not flagged although its best exponential slope is positive.
Three qubit counts at least are needed to tell the two apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

__all__ = ["DecayEstimate", "VarianceEstimate", "estimate_variance", "fit_decay"]

Array = NDArray[np.float64]
_NORMAL = NormalDist()


@dataclass(frozen=True, eq=False)
class VarianceEstimate:
    """Variances of ``K`` components and of their mean, with BCa intervals.

    Attributes:
        variance: ``(K,)`` per component.
        low, high: ``(K,)`` interval bounds.
        pooled: ``(estimate, low, high)`` of the mean over the components.
        replicates: ``(B,)`` bootstrap replicates of the pooled estimate.
    """

    variance: Array
    low: Array
    high: Array
    pooled: tuple[float, float, float]
    replicates: Array


def _statistic(s1: Array, s2: Array, s3: Array, count: float) -> Array:
    """Unbiased variance from the sums of ``g``, ``g²`` and ``σ²_shot`` over ``count`` draws."""
    result: Array = (s2 - s1**2 / count) / (count - 1) - s3 / count
    return result


def _bca(estimate: Array, boot: Array, jack: Array, level: float) -> tuple[Array, Array]:
    """BCa bounds ``(C,)`` from estimates ``(C,)``, replicates ``(B, C)``, jackknife ``(N, C)``."""
    resamples = boot.shape[0]
    below = (boot < estimate).sum(axis=0) + 0.5 * (boot == estimate).sum(axis=0)
    share = np.clip(below / resamples, 0.5 / resamples, 1 - 0.5 / resamples)
    z0 = np.array([_NORMAL.inv_cdf(float(p)) for p in share])
    spread = jack.mean(axis=0) - jack
    denominator = 6.0 * np.sum(spread**2, axis=0) ** 1.5
    safe = np.where(denominator > 0, denominator, 1.0)
    accel = np.where(denominator > 0, np.sum(spread**3, axis=0) / safe, 0.0)
    z = _NORMAL.inv_cdf(0.5 + level / 2)
    bounds = []
    for zq in (-z, z):
        shifted = z0 + zq
        adjusted = z0 + shifted / (1 - accel * shifted)
        quantiles = np.array([_NORMAL.cdf(float(v)) for v in adjusted])
        bounds.append(np.array([np.quantile(boot[:, c], q) for c, q in enumerate(quantiles)]))
    return bounds[0], bounds[1]


def estimate_variance(
    draws: Array,
    noise: Array | None = None,
    *,
    level: float = 0.95,
    resamples: int = 2000,
    rng: np.random.Generator,
) -> VarianceEstimate:
    """Variance of each column of ``draws (N, K)`` over the draws, with BCa intervals.

    Args:
        draws: ``(N, K)`` gradient components of ``N`` independent draws.
        noise: ``(N, K)`` their shot-noise variances (``stderr²``), subtracted; ``None`` when
            exact.
        level: the intervals' confidence level.
        resamples: bootstrap resamples ``B``.
        rng: draws the resamples.
    """
    count, width = draws.shape
    shot = np.zeros_like(draws) if noise is None else noise
    sums = draws.sum(axis=0), (draws**2).sum(axis=0), shot.sum(axis=0)
    estimate = _statistic(*sums, count)
    # Resample counts (B, N) from uniform indices: the same law as a multinomial draw per
    # resample, 10x faster (0.3 s → 0.03 s at B = N = 2000).
    picks = rng.integers(0, count, size=(resamples, count))
    picks += np.arange(resamples)[:, None] * count
    weights = np.bincount(picks.ravel(), minlength=resamples * count).reshape(resamples, count)
    weights = weights.astype(np.float64)
    boot = _statistic(weights @ draws, weights @ draws**2, weights @ shot, count)
    jack = _statistic(sums[0] - draws, sums[1] - draws**2, sums[2] - shot, count - 1)
    # The pooled column (mean over components) rides along: its statistic is linear in them.
    columns = [np.append(estimate, estimate.mean())]
    columns += [np.column_stack([m, m.mean(axis=1)]) for m in (boot, jack)]
    low, high = _bca(columns[0], columns[1], columns[2], level)
    pooled = (float(columns[0][-1]), float(low[-1]), float(high[-1]))
    return VarianceEstimate(estimate, low[:width], high[:width], pooled, columns[1][:, -1])


@dataclass(frozen=True, eq=False)
class DecayEstimate:
    """The fits of one series (see the module docstring).

    Attributes:
        rate, rate_low, rate_high: ``r`` in ``Var ∝ e^{−r·n}`` and its interval.
        intercept: ``a`` (``log Var`` at ``n = 0``).
        power, power_low, power_high: ``p`` in ``Var ∝ n^{−p}``.
        residual_exponential, residual_power: the fits' weighted residual sums.
        shape: ``"exponential"``, ``"polynomial"``, ``"none"`` or ``"undetermined"``.
        plateau: exponential decay with a rate significantly above zero.
        power_intercept: ``c`` in ``log Var = c − p·log n``.
    """

    rate: float
    rate_low: float
    rate_high: float
    intercept: float
    power: float
    power_low: float
    power_high: float
    residual_exponential: float
    residual_power: float
    shape: str
    plateau: bool
    power_intercept: float


def _weighted_fit(x: Array, logs: Array, weights: Array) -> tuple[Array, Array]:
    """Coefficients ``(2, R)`` (intercept, decay) of ``logs (m, R)`` on ``x (m,)``, residuals."""
    design = np.column_stack([np.ones_like(x), -x])
    normal = design.T @ (weights[:, None] * design)
    coefficients: Array = np.asarray(
        np.linalg.solve(normal, design.T @ (weights[:, None] * logs)), dtype=np.float64
    )
    residual: Array = np.sum(weights[:, None] * (logs - design @ coefficients) ** 2, axis=0)
    return coefficients, residual


def fit_decay(
    qubits: Array, variance: Array, replicates: Array, *, level: float = 0.95
) -> DecayEstimate:
    """Exponential and power-law fits of ``variance (m,)`` over ``qubits (m,)``.

    Args:
        qubits: ``(m,)`` qubit counts, at least 2 distinct.
        variance: ``(m,)`` variance estimates.
        replicates: ``(B, m)`` their bootstrap replicates (independent between points).
        level: the intervals' confidence level.
    """
    # Replicates at or below zero (shot noise subtracted) floor at a tiny value: their huge
    # negative logs widen the spread, which is the honest answer for such a point.
    logs = np.log(np.maximum(replicates, 1e-300))
    spread = logs.std(axis=0, ddof=1) if logs.shape[0] > 1 else np.ones(qubits.size)
    weights = 1.0 / np.maximum(spread, 1e-12) ** 2
    centre = np.log(np.maximum(variance, 1e-300))[:, None]
    tail = (1 - level) / 2
    fits = []
    for x in (qubits, np.log(qubits)):
        coefficients, residual = _weighted_fit(x, centre, weights)
        boot, _ = _weighted_fit(x, logs.T, weights)
        low, high = np.quantile(boot[1], [tail, 1 - tail])
        fits.append((float(coefficients[1, 0]), float(low), float(high), coefficients, residual))
    rate, rate_low, rate_high, exp_coefficients, exp_residual = fits[0]
    power, power_low, power_high, pow_coefficients, pow_residual = fits[1]
    res_exp, res_pow = float(exp_residual[0]), float(pow_residual[0])
    if np.unique(qubits).size < 3:
        shape = "undetermined"
    elif rate_low > 0 and res_exp <= res_pow:
        shape = "exponential"
    elif rate_low > 0 or power_low > 0:
        shape = "polynomial"
    else:
        shape = "none"
    intercept = float(exp_coefficients[0, 0])
    return DecayEstimate(
        *(rate, rate_low, rate_high, intercept, power, power_low, power_high),
        *(res_exp, res_pow, shape, shape == "exponential"),
        float(pow_coefficients[0, 0]),
    )
