"""Coverage of the variance intervals and of the decay-rate interval (statistics, not speed).

Draws ∂C/∂θ₀ of the analytic case — the global cost on a product of RY rotations,
``½ sin θ₀ Π_{i>0} cos²(θ_i/2)`` with θ uniform, whose variance is ``(1/8)(3/8)^{n−1}`` — and
counts how often the 95 % intervals hold the truth: qtrain's BCa bootstrap interval against
the chi-square interval ``(N−1)s²/χ²`` (exact for Gaussian draws only; scipy, a dev
dependency), and the decay-rate interval of ``fit_decay`` against ``ln(8/3)``. The numbers
are quoted in docs/decisions.md.

    python bench/coverage_variance_ci.py          # about 1 min on 2 cores
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy import stats

try:
    import qtrain  # noqa: F401 - only to find the package
except ImportError:  # running from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from qtrain.diagnostics.stats import estimate_variance, fit_decay


def product(rng: np.random.Generator, draws: int, n: int) -> np.ndarray:
    theta = rng.uniform(0, 2 * np.pi, (draws, n))
    return 0.5 * np.sin(theta[:, 0]) * np.prod(np.cos(theta[:, 1:] / 2) ** 2, axis=1)


def interval_coverage(repeats: int = 400, draws: int = 200) -> None:
    cases = {
        "global n=1 (½ sin θ)": (lambda r: product(r, draws, 1), 1 / 8),
        "global n=3": (lambda r: product(r, draws, 3), (1 / 8) * (3 / 8) ** 2),
        "global n=5": (lambda r: product(r, draws, 5), (1 / 8) * (3 / 8) ** 4),
        "local n=4 (½ sin θ / 4)": (lambda r: product(r, draws, 1) / 4, 1 / 128),
        "standard normal": (lambda r: r.normal(size=draws), 1.0),
    }
    print(f"| draws ({repeats} × {draws}) | kurtosis | chi-square coverage | BCa coverage |")
    print("|---|---|---|---|")
    for name, (draw, true) in cases.items():
        rng = np.random.default_rng(1)
        bca = chi = 0
        for _ in range(repeats):
            x = draw(rng)
            estimate = estimate_variance(x[:, None], rng=rng, resamples=1000)
            bca += estimate.low[0] <= true <= estimate.high[0]
            s2 = x.var(ddof=1)
            low = (draws - 1) * s2 / stats.chi2.ppf(0.975, draws - 1)
            high = (draws - 1) * s2 / stats.chi2.ppf(0.025, draws - 1)
            chi += low <= true <= high
        many = np.concatenate([draw(np.random.default_rng(s)) for s in range(1000)])
        kurtosis = stats.kurtosis(many, fisher=False)
        print(f"| {name} | {kurtosis:.1f} | {chi / repeats:.3f} | {bca / repeats:.3f} |")


def rate_coverage(repeats: int = 100, draws: int = 400, sizes: int = 6) -> None:
    rng, hits, rates = np.random.default_rng(7), 0, []
    qubits = np.arange(1, sizes + 1, dtype=float)
    for _ in range(repeats):
        variance, replicates = [], []
        for n in range(1, sizes + 1):
            estimate = estimate_variance(product(rng, draws, n)[:, None], rng=rng, resamples=1000)
            variance.append(estimate.pooled[0])
            replicates.append(estimate.replicates)
        fit = fit_decay(qubits, np.array(variance), np.column_stack(replicates))
        hits += fit.rate_low <= np.log(8 / 3) <= fit.rate_high
        rates.append(fit.rate)
    print(f"\ndecay rate, n = 1..{sizes}, {draws} draws, {repeats} repetitions: interval covered "
          f"ln(8/3) = {np.log(8 / 3):.4f} {hits} times; rate {np.mean(rates):.4f} ± "
          f"{np.std(rates):.4f}")


if __name__ == "__main__":
    interval_coverage()
    rate_coverage()
