import dataclasses
import json
import math
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import qtrain as qt
from qtrain.diagnostics.plot import plot_scan


@pytest.fixture(scope="module")
def scan():
    return qt.diagnostics.variance_scan(
        "hardware_efficient",
        qubits=[2, 3, 4],
        depths=[1, 2],
        cost="local",
        samples=30,
        resamples=200,
        seed=4,
    )


def test_plot_writes_a_png_with_error_bars_and_fitted_lines(scan, tmp_path):
    figure = scan.plot(tmp_path / "scan.png")
    assert (tmp_path / "scan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (ax,) = figure.axes
    assert ax.get_yscale() == "log" and len(ax.containers) == 2  # one errorbar set per depth
    assert len(ax.get_lines()) >= 2  # the fitted lines
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("depth 1, local, uniform: fit ∝ ")
    plt.close(figure)


def _fit(shape, **changes):
    values = dict(depth=2, cost="local", init="uniform", qubits=(2, 4, 6, 8), rate=0.3)
    values |= dict(rate_low=0.2, rate_high=0.4, base=1.35, intercept=-1.0, power=2.0)
    values |= dict(power_low=1.5, power_high=2.5, residual_exponential=9.0, residual_power=1.0)
    values |= dict(shape=shape, plateau=shape == "exponential", power_intercept=-0.5)
    return qt.diagnostics.DecayFit(**(values | changes))


@pytest.mark.parametrize("shape", ["polynomial", "exponential"])
def test_each_series_draws_its_own_fit_with_the_right_label(scan, shape):
    """A series labelled polynomial is drawn with its power law, not the exponential fit."""
    fit = _fit(shape, qubits=(2, 3, 4))
    model = fit.predict_power if shape == "polynomial" else fit.predict
    points = tuple(
        dataclasses.replace(p, variance=model(p.n_qubits), ci_low=0.0, ci_high=1.0)
        for p in scan.points
        if p.depth == 2
    )
    result = qt.diagnostics.ScanResult(points, (fit,), dict(scan.settings))
    figure = plot_scan(result)
    (ax,) = figure.axes
    line = ax.get_lines()[0]  # the fit (drawn before the error bars)
    x, y = line.get_data()
    assert np.allclose(y, [model(v) for v in x])
    (label,) = [t.get_text() for t in ax.get_legend().get_texts()]
    assert ("n^−2" in label) == (shape == "polynomial") and label.endswith(
        "polynomial" if shape == "polynomial" else "barren plateau"
    )
    figure.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)  # qubits: no 2.5, 7.5


def test_a_scan_file_without_the_power_intercept_still_loads(scan):
    data = scan.to_dict()
    for f in data["fits"]:
        del f["power_intercept"]
    loaded = qt.diagnostics.ScanResult.from_dict(json.loads(json.dumps(data)))
    assert all(math.isnan(f.power_intercept) for f in loaded.fits)
    assert all(f.model in ("exponential", "power") for f in loaded.fits)
    plt.close(loaded.plot())


def test_plot_on_a_given_axis(scan):
    figure, ax = plt.subplots()
    assert plot_scan(scan, ax=ax) is figure
    plt.close(figure)


def test_plot_without_matplotlib_is_a_clear_error(scan, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(qt.ConfigError, match=r"pip install 'qtrain\[plot\]'"):
        plot_scan(scan)


def test_plot_returns_a_figure_outside_pyplot(scan):
    before = plt.get_fignums()
    figure = scan.plot()
    assert isinstance(figure, Figure) and plt.get_fignums() == before
