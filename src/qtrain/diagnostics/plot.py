"""The scan plot: log-variance against qubits, one series per (depth, cost, init).

Each point has its bootstrap interval as an error bar and each fitted series its line
``Var = e^{a − r·n}``; series flagged as barren plateaus are labelled so. Needs matplotlib
(``pip install 'qtrain[plot]'``); the PNG is written with the non-interactive Agg backend.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qtrain.errors import ConfigError

if TYPE_CHECKING:
    from qtrain.diagnostics.result import ScanResult

__all__ = ["plot_scan", "save_plot"]


def _pyplot() -> Any:
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError as error:
        raise ConfigError(f"plots need matplotlib: pip install 'qtrain[plot]' ({error})") from None
    matplotlib.use("Agg", force=False)  # files, never a window; keeps a backend already chosen
    return importlib.import_module("matplotlib.pyplot")


def plot_scan(result: ScanResult, path: str | Path | None = None, *, ax: Any = None) -> Any:
    """Plot ``result`` on ``ax`` (a new figure if ``None``); write a PNG to ``path`` if given.

    Returns:
        The matplotlib ``Figure``.
    """
    plt = _pyplot()
    if ax is None:
        figure, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    else:
        figure = ax.figure
    series: dict[tuple[int, str, str], list[Any]] = {}
    for point in result.points:
        series.setdefault(point.series, []).append(point)
    fits = {(f.depth, f.cost, f.init): f for f in result.fits}
    for index, (key, points) in enumerate(series.items()):
        color = f"C{index % 10}"
        n = np.array([p.n_qubits for p in points], dtype=np.float64)
        var = np.array([p.variance for p in points])
        low = np.array([p.ci_low for p in points])
        high = np.array([p.ci_high for p in points])
        shown = var > 0
        errors = np.array([var - np.maximum(low, var * 1e-3), high - var])[:, shown]
        label = f"depth {key[0]}, {key[1]}, {key[2]}"
        fit = fits.get(key)
        if fit is not None:
            verdict = "barren plateau" if fit.plateau else fit.shape
            label += f": b = {fit.base:.3g}, {verdict}"
            grid = np.linspace(n.min(), n.max(), 50)
            ax.plot(grid, [fit.predict(x) for x in grid], color=color, lw=1, alpha=0.8)
        ax.errorbar(
            n[shown], var[shown], yerr=errors, fmt="o", ms=4, color=color, capsize=3, label=label
        )
    ax.set_yscale("log")
    ax.set_xlabel("qubits n")
    ax.set_ylabel("Var[∂C/∂θ_k]")
    level = result.settings.get("level", 0.95)
    ax.set_title(
        f"{result.settings.get('ansatz', 'ansatz')}: gradient variance ({level:.0%} BCa intervals)"
    )
    ax.legend(fontsize="small")
    if path is not None:
        figure.savefig(Path(path), dpi=120)
    return figure


def save_plot(result: ScanResult, path: str | Path) -> Path:
    """Write the plot of ``result`` to ``path`` (PNG) and release the figure."""
    figure = plot_scan(result, path)
    _pyplot().close(figure)
    return Path(path)
