"""The scan plot: log-variance against qubits, one series per (depth, cost, init).

Each point has its bootstrap interval as an error bar and each fitted series the line of its
own model (:attr:`DecayFit.model`): ``Var = e^{a − r·n}`` for an exponential decay (labelled
with its base ``b``), ``Var = e^c·n^{−p}`` for a polynomial one (labelled with ``p``); series
flagged as barren plateaus are labelled so. The qubit axis has integer ticks only. Needs matplotlib
(``pip install 'qtrain[plot]'``).

Figures are ``matplotlib.figure.Figure`` objects made without ``pyplot`` (:func:`new_figure`):
no global state and no backend switch, so a script, a server and a notebook all get the same
figure, and a notebook shows a returned figure once (not again at the end of the cell).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qtrain.extras import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qtrain.diagnostics.result import DecayFit, ScanResult

__all__ = ["new_figure", "plot_scan", "save_plot"]


def new_figure(purpose: str, *, size: tuple[float, float] = (6.4, 4.4)) -> Figure:
    """A new constrained-layout ``Figure`` of ``size`` inches, outside ``pyplot``.

    Raises:
        ConfigError: matplotlib is not installed; the message names ``purpose`` and the
            ``plot`` extra.
    """
    require("matplotlib", extra="plot", purpose=purpose)
    if "IPython" in sys.modules:
        # In a notebook, importing pyplot activates the inline integration that displays a
        # returned Figure; it creates no figure of its own.
        importlib.import_module("matplotlib.pyplot")
    from matplotlib.figure import Figure  # noqa: PLC0415 - optional extra

    return Figure(figsize=size, layout="constrained")


def _integer_locator() -> Any:
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415 - optional extra

    return MaxNLocator(nbins="auto", integer=True)


def _fit_label(fit: DecayFit) -> str:
    """``": b = 1.9, barren plateau"`` or ``": fit n^-2.1, polynomial"``: the drawn model."""
    verdict = "barren plateau" if fit.plateau else fit.shape
    if fit.model == "power":
        return f": fit ∝ n^−{fit.power:.3g}, {verdict}"
    return f": fit ∝ {fit.base:.3g}^−n, {verdict}"


def plot_scan(result: ScanResult, path: str | Path | None = None, *, ax: Any = None) -> Any:
    """Plot ``result`` on ``ax`` (a new figure if ``None``); write a PNG to ``path`` if given.

    Returns:
        The matplotlib ``Figure``.
    """
    if ax is None:
        figure = new_figure("the plateau plot")
        ax = figure.add_subplot()
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
            label += _fit_label(fit)
            grid = np.linspace(n.min(), n.max(), 50)
            curve = fit.predict_power if fit.model == "power" else fit.predict
            ax.plot(grid, [curve(x) for x in grid], color=color, lw=1, alpha=0.8)
        ax.errorbar(
            n[shown], var[shown], yerr=errors, fmt="o", ms=4, color=color, capsize=3, label=label
        )
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(_integer_locator())
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
    """Write the plot of ``result`` to ``path`` (PNG)."""
    plot_scan(result, path)
    return Path(path)
