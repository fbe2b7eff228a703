"""Coverage of the variance intervals and of the decay-rate interval (statistics, not speed).

Draws ∂C/∂θ₀ of the analytic case — the global cost on a product of RY rotations,
``½ sin θ₀ Π_{i>0} cos²(θ_i/2)`` with θ uniform, whose variance is ``(1/8)(3/8)^{n−1}`` — and
counts how often the 95 % intervals hold the truth: qtrain's BCa bootstrap interval against
the chi-square interval ``(N−1)s²/χ²`` (exact for Gaussian draws only; scipy, a dev
dependency), and the decay-rate interval of ``fit_decay`` against ``ln(8/3)``. The numbers
are quoted in docs/decisions.md.

``--scipy`` adds ``scipy.stats.bootstrap(method="BCa", paired=True)`` on the same draws and
the same generator state (so the same resample indices), its coverage, the largest relative
difference of its bounds from ours, and both implementations' time (docs/decisions.md: why
qtrain keeps its own).

    python bench/coverage_variance_ci.py          # about 20 s on 2 cores
    python bench/coverage_variance_ci.py --scipy  # about 40 s
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import scipy
from scipy import stats

try:
    import qtrain  # noqa: F401 - only to find the package
except ImportError:  # running from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from qtrain.diagnostics.stats import estimate_variance, fit_decay


def product(rng: np.random.Generator, draws: int, n: int) -> np.ndarray:
    theta = rng.uniform(0, 2 * np.pi, (draws, n))
    return 0.5 * np.sin(theta[:, 0]) * np.prod(np.cos(theta[:, 1:] / 2) ** 2, axis=1)


# scipy >= 1.15 names the generator `rng` (SPEC 7); before, `random_state`
SCIPY_RNG = (
    "rng" if tuple(map(int, scipy.__version__.split(".")[:2])) >= (1, 15) else "random_state"
)


def scipy_bca(x: np.ndarray, rng: np.random.Generator, resamples: int) -> tuple[float, float]:
    """scipy's BCa interval of the sample variance of ``x`` (what ``estimate_variance`` does)."""
    result = stats.bootstrap(
        (x,),
        lambda s, axis: np.var(s, axis=axis, ddof=1),
        n_resamples=resamples,
        vectorized=True,
        paired=True,
        method="BCa",
        **{SCIPY_RNG: rng},
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def interval_coverage(repeats: int = 400, draws: int = 200, *, compare: bool = False) -> None:
    cases = {
        "global n=1 (½ sin θ)": (lambda r: product(r, draws, 1), 1 / 8),
        "global n=3": (lambda r: product(r, draws, 3), (1 / 8) * (3 / 8) ** 2),
        "global n=5": (lambda r: product(r, draws, 5), (1 / 8) * (3 / 8) ** 4),
        "local n=4 (½ sin θ / 4)": (lambda r: product(r, draws, 1) / 4, 1 / 128),
        "standard normal": (lambda r: r.normal(size=draws), 1.0),
    }
    extra = " scipy BCa coverage | max rel. diff of bounds | ours s | scipy s |" if compare else ""
    print(f"| draws ({repeats} × {draws}) | kurtosis | chi-square coverage | BCa coverage |{extra}")
    print("|---|---|---|---|" + "---|" * 4 * compare)
    for name, (draw, true) in cases.items():
        rng = np.random.default_rng(1)
        bca = chi = sci = 0
        diff = ours_s = scipy_s = 0.0
        for _ in range(repeats):
            x = draw(rng)
            state = rng.bit_generator.state  # scipy resamples from the same state as ours
            started = time.perf_counter()
            estimate = estimate_variance(x[:, None], rng=rng, resamples=1000)
            ours_s += time.perf_counter() - started
            bca += estimate.low[0] <= true <= estimate.high[0]
            if compare:
                twin = np.random.default_rng()
                twin.bit_generator.state = state
                started = time.perf_counter()
                low, high = scipy_bca(x, twin, 1000)
                scipy_s += time.perf_counter() - started
                sci += low <= true <= high
                ours = np.array([estimate.low[0], estimate.high[0]])
                diff = max(diff, float(np.max(np.abs(ours - [low, high]) / np.abs(ours))))
            s2 = x.var(ddof=1)
            low = (draws - 1) * s2 / stats.chi2.ppf(0.975, draws - 1)
            high = (draws - 1) * s2 / stats.chi2.ppf(0.025, draws - 1)
            chi += low <= true <= high
        many = np.concatenate([draw(np.random.default_rng(s)) for s in range(1000)])
        kurtosis = stats.kurtosis(many, fisher=False)
        row = f"| {name} | {kurtosis:.1f} | {chi / repeats:.3f} | {bca / repeats:.3f} |"
        if compare:
            row += f" {sci / repeats:.3f} | {diff:.1e} | {ours_s:.2f} | {scipy_s:.2f} |"
        print(row)


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
    print(
        f"\ndecay rate, n = 1..{sizes}, {draws} draws, {repeats} repetitions: interval covered "
        f"ln(8/3) = {np.log(8 / 3):.4f} {hits} times; rate {np.mean(rates):.4f} ± "
        f"{np.std(rates):.4f}"
    )


if __name__ == "__main__":
    interval_coverage(compare="--scipy" in sys.argv[1:])
    rate_coverage()
