"""Plots of a run from its step records, as PNG bytes (matplotlib, the ``plot`` extra).

Figures are drawn on ``matplotlib.figure.Figure`` objects with the Agg renderer, never through
``pyplot``: no global state, no GUI backend, safe in a server or a test.

* ``loss``: the measured loss with its 1σ and 2σ bands, the exact minimum when known, and the
  steps where the plateau monitor decided something other than ``ok``.
* ``gradient``: ‖g‖ ± its standard error, and (with shots) the SNR against the noise level 1.
* ``shots``: the run's shots against its budget (not drawn for an exact run).
* ``reliability``: retries, failed rows and cached rows per step; calibration changes (not
  drawn when there were none of these).
* ``gradient_heatmap``: |∂L/∂θ_k| per parameter (rows) and step (columns), log colour scale
  between the 2nd and 98th percentiles of the nonzero magnitudes (outliers saturate).

No chart is drawn without data, and step axes carry integer ticks only. Numbers read as in the
report's tables: log axes (and the heatmap's colour bar) label their ticks ``0.01``, ``1e-05``
(:func:`qtrain.display.number`), not matplotlib's ``10^{-2}``, and the exact minimum's label
is the value the summary table shows (``report_tables.rounded``).
:func:`render_figures` also returns, per plot, what each of its axes shows (tick labels,
number of drawn artists) so the report's layout can be checked without reading pixels.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from qtrain.display import number
from qtrain.extras import require
from qtrain.observe.report_tables import rounded
from qtrain.train.records import StepRecord
from qtrain.train.tracking import monitor_decision

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["HEATMAP_PERCENTILES", "PLOTS", "render_figures", "render_plots"]

PLOTS = ("loss", "gradient", "shots", "reliability", "gradient_heatmap")
_DECISION_COLOURS = {"warn": "tab:orange", "stop": "tab:red", "raise_shots": "tab:purple"}
_DECISION_COLOURS |= {"layerwise": "tab:green", "other": "tab:gray"}
HEATMAP_PERCENTILES = (2.0, 98.0)
"""The heatmap's colour limits: these percentiles of the nonzero magnitudes."""


def _integer_steps(axes: Axes) -> None:
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415 - optional extra

    axes.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))


def _log_numbers(axis: Any) -> None:
    """A log-scaled axis labels its ticks as plain numbers (``0.01``, ``1e-05``, ``0.2``).

    matplotlib's default writes mathtext powers (``10^{-2}``, ``2×10^{-2}``); its choice of
    which ticks carry a label (decades; minor ticks on a short range) stays.
    """
    from matplotlib.ticker import LogFormatter  # noqa: PLC0415 - optional extra

    class Numbers(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            return number(x)

    axis.set_major_formatter(Numbers())
    axis.set_minor_formatter(Numbers())


def _figure(rows: int = 1, height: float = 3.4) -> Figure:
    from matplotlib.figure import Figure  # noqa: PLC0415 - optional extra

    return Figure(figsize=(7.5, height * rows), layout="constrained")


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    return buffer.getvalue()


def _array(records: Sequence[StepRecord], name: str) -> np.ndarray:
    """``(K,)`` the field over steps, NaN where it is ``None``."""
    values = [getattr(r, name) for r in records]
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _band(axes: Axes, steps: np.ndarray, value: np.ndarray, err: np.ndarray, colour: str) -> None:
    if np.all(np.isnan(err)):
        return
    for width, alpha, label in ((2.0, 0.15, "±2σ"), (1.0, 0.3, "±1σ")):
        axes.fill_between(
            steps,
            value - width * err,
            value + width * err,
            color=colour,
            alpha=alpha,
            lw=0,
            label=label,
        )


def _loss(records: Sequence[StepRecord], exact_value: float | None, _: int | None) -> Figure:
    figure = _figure()
    axes = figure.add_subplot()
    steps, loss = _array(records, "step"), _array(records, "loss")
    _band(axes, steps, loss, _array(records, "loss_stderr"), "tab:blue")
    axes.plot(steps, loss, color="tab:blue", marker=".", label="measured loss")
    if exact_value is not None:
        axes.axhline(
            exact_value, color="black", ls="--", lw=1, label=f"exact {rounded(exact_value)}"
        )
    seen: set[str] = set()
    for record in records:
        decision = monitor_decision(record.monitor)
        if decision in _DECISION_COLOURS:
            label = None if decision in seen else f"monitor: {decision}"
            seen.add(decision)
            axes.axvline(record.step, color=_DECISION_COLOURS[decision], ls=":", label=label)
    axes.set(xlabel="step", ylabel="loss", title="Loss ± standard error")
    _integer_steps(axes)
    axes.legend(loc="best", fontsize="small")
    return figure


def _gradient(records: Sequence[StepRecord], _: float | None, __: int | None) -> Figure:
    snr = _array(records, "grad_snr")
    has_snr = not np.all(np.isnan(snr))
    figure = _figure(rows=2, height=2.6) if has_snr else _figure()
    panels = figure.subplots(2, 1, sharex=True) if has_snr else [figure.add_subplot()]
    top = panels[0]
    steps, norm = _array(records, "step"), _array(records, "grad_norm")
    _band(top, steps, norm, _array(records, "grad_norm_stderr"), "tab:green")
    top.plot(steps, norm, color="tab:green", marker=".", label="‖g‖")
    if np.all(norm > 0):
        top.set_yscale("log")
        _log_numbers(top.yaxis)
    title = "Gradient norm and signal-to-noise ratio" if has_snr else "Gradient norm (exact)"
    top.set(ylabel="gradient norm", title=title)
    top.legend(loc="best", fontsize="small")
    if has_snr:  # an exact run has no shot noise: no SNR panel at all
        bottom = panels[1]
        bottom.plot(steps, snr, color="tab:red", marker=".", label="SNR")
        bottom.axhline(1.0, color="black", ls="--", lw=1, label="noise level (SNR = 1)")
        if np.nanmin(snr) > 0:
            bottom.set_yscale("log")
            _log_numbers(bottom.yaxis)
        bottom.legend(loc="best", fontsize="small")
        bottom.set(ylabel="SNR")
    panels[-1].set(xlabel="step")
    _integer_steps(panels[-1])
    return figure


def _shots(records: Sequence[StepRecord], _: float | None, max_shots: int | None) -> Figure:
    figure = _figure()
    axes = figure.add_subplot()
    steps, total = _array(records, "step"), _array(records, "shots_total")
    axes.step(steps, total, where="post", color="tab:blue", label="shots spent")
    title = "Shots spent"
    if max_shots is not None:
        axes.axhline(max_shots, color="tab:red", ls="--", label=f"budget {max_shots:,}")
        title += f": {total[-1] / max_shots:.1%} of the budget"
    axes.set(xlabel="step", ylabel="shots (cumulative)", title=title)
    _integer_steps(axes)
    axes.legend(loc="best", fontsize="small")
    return figure


def _reliability(records: Sequence[StepRecord], _: float | None, __: int | None) -> Figure:
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415 - optional extra

    figure = _figure()
    axes = figure.add_subplot()
    steps = _array(records, "step")
    for offset, (name, colour) in enumerate(
        (("retries", "tab:orange"), ("failures", "tab:red"), ("cached", "tab:gray"))
    ):
        axes.bar(steps + (offset - 1) * 0.27, _array(records, name), 0.27, color=colour, label=name)
    previous: set[str] | None = None
    labelled = False
    for record in records:
        ids = set(record.calibration_ids)
        if previous is not None and ids - previous:
            label = None if labelled else "calibration change"
            axes.axvline(record.step, color="tab:purple", ls=":", label=label)
            labelled = True
        previous = ids
    axes.set(xlabel="step", ylabel="per step", title="Retries, failed rows and cached rows")
    _integer_steps(axes)
    axes.yaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))  # counts
    axes.legend(loc="best", fontsize="small")
    return figure


def _colour_limits(magnitudes: np.ndarray) -> tuple[float, float]:
    """Log-colour limits robust to outliers: percentiles of the nonzero magnitudes."""
    positive = magnitudes[magnitudes > 0]
    if not positive.size:
        return 1e-12, 1e-11
    low, high = (float(v) for v in np.percentile(positive, HEATMAP_PERCENTILES))
    return low, max(high, low * 10)


def _heatmap(records: Sequence[StepRecord], _: float | None, __: int | None) -> Figure:
    from matplotlib.colors import LogNorm  # noqa: PLC0415 - optional extra
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415 - optional extra

    magnitudes = np.abs(np.array([r.gradient for r in records], dtype=np.float64)).T  # (P, K)
    low, high = _colour_limits(magnitudes)
    figure = _figure(height=max(2.6, min(8.0, 0.25 * magnitudes.shape[0] + 1.5)))
    axes = figure.add_subplot()
    image = axes.imshow(
        np.clip(magnitudes, low, high),
        aspect="auto",
        origin="lower",
        interpolation="nearest",
        norm=LogNorm(vmin=low, vmax=high),
        cmap="viridis",
        extent=(-0.5, magnitudes.shape[1] - 0.5, -0.5, magnitudes.shape[0] - 0.5),
    )
    colorbar = figure.colorbar(image, ax=axes, label="|∂L/∂θ_k|", extend="both")
    _log_numbers(colorbar.ax.yaxis)
    for axis, size in ((axes.xaxis, magnitudes.shape[1]), (axes.yaxis, magnitudes.shape[0])):
        if size <= 12:  # one tick per step or parameter
            axis.set_ticks(range(size))
        else:
            axis.set_major_locator(MaxNLocator(nbins=10, integer=True))
    axes.set(xlabel="step", ylabel="parameter k", title="Gradient magnitude per parameter")
    return figure


_MAKERS: dict[str, Callable[[Sequence[StepRecord], float | None, int | None], Figure]] = {
    "loss": _loss,
    "gradient": _gradient,
    "shots": _shots,
    "reliability": _reliability,
    "gradient_heatmap": _heatmap,
}


def _has_data(name: str, records: Sequence[StepRecord]) -> bool:
    """Whether plot ``name`` would show anything: no chart is drawn without data."""
    if name == "shots":
        return any(r.shots_total for r in records)
    if name == "reliability":
        calibrations = {c for r in records for c in r.calibration_ids}
        return len(calibrations) > 1 or any(r.retries or r.failures or r.cached for r in records)
    if name == "gradient_heatmap":
        return all(r.gradient for r in records)
    return True


def _tick_labels(axis: Any) -> list[str]:
    """The labels of the ticks drawn inside the axis' view (mathtext wrappers removed)."""
    low, high = sorted(axis.get_view_interval())
    labels = []
    for value, label in zip(axis.get_majorticklocs(), axis.get_ticklabels(), strict=False):
        text = label.get_text().replace("$\\mathdefault{", "").replace("}$", "")
        if text and low - 1e-9 * abs(high - low) <= value <= high + 1e-9 * abs(high - low):
            labels.append(text.replace("\u2212", "-"))
    return labels


def _axes_facts(figure: Figure) -> list[dict[str, object]]:
    """Per axes (colorbars left out): labels, tick labels and how many artists it draws."""
    figure.canvas.draw()  # tick labels are only final once drawn
    facts: list[dict[str, object]] = []
    for axes in figure.axes:
        if axes.get_label() == "<colorbar>":
            continue
        drawn = [*axes.lines, *axes.collections, *axes.patches, *axes.images]
        facts.append(
            {
                "xlabel": axes.get_xlabel(),
                "ylabel": axes.get_ylabel(),
                "xticks": _tick_labels(axes.xaxis),
                "yticks": _tick_labels(axes.yaxis),
                "artists": len(drawn),
            }
        )
    return facts


def render_figures(
    records: Sequence[StepRecord],
    *,
    exact_value: float | None = None,
    max_shots: int | None = None,
) -> dict[str, tuple[bytes, list[dict[str, object]]]]:
    """Per plot with data: its PNG bytes and the facts of its axes (see :func:`render_plots`).

    Raises:
        ConfigError: matplotlib (the ``plot`` extra) is not installed.
    """
    require("matplotlib", extra="plot", purpose="run plots")
    out: dict[str, tuple[bytes, list[dict[str, object]]]] = {}
    if not records:
        return out
    for name in (n for n in PLOTS if _has_data(n, records)):
        figure = _MAKERS[name](records, exact_value, max_shots)
        facts = _axes_facts(figure)
        out[name] = (_png(figure), facts)
    return out


def render_plots(
    records: Sequence[StepRecord],
    *,
    exact_value: float | None = None,
    max_shots: int | None = None,
) -> dict[str, bytes]:
    """PNG bytes of every plot in :data:`PLOTS` that has data.

    There are none without records, no shots chart for an exact run, no reliability chart
    without retries, failures, cached rows or a calibration change, and no heatmap without
    gradient vectors.

    Raises:
        ConfigError: matplotlib (the ``plot`` extra) is not installed.
    """
    figures = render_figures(records, exact_value=exact_value, max_shots=max_shots)
    return {name: png for name, (png, _) in figures.items()}
