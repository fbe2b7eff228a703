import sys

import matplotlib.pyplot as plt
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
    assert labels[0].startswith("depth 1, local, uniform: b = ")
    plt.close(figure)


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
