import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import qtrain as qt


def fitted(shots):
    circuit = qt.Circuit(1).ry(0, qt.P(0))
    objective = qt.Objective.single(circuit, qt.Z(0))
    return qt.fit(
        objective, np.array([0.5]), qt.optim.Adam(0.2), budget=qt.Budget(max_steps=5),
        shots=shots, seed=2,
    )  # fmt: skip


def test_plot_of_a_sampled_run_has_error_bars_and_the_final_exact_loss():
    result = fitted(200)
    figure = result.plot()
    assert isinstance(figure, Figure)
    assert plt.get_fignums() == []  # not a pyplot figure: a notebook shows it once
    (ax,) = figure.axes
    (bars,) = ax.containers
    steps, losses = bars.lines[0].get_data()
    assert list(steps) == [0, 1, 2, 3, 4]
    assert np.allclose(losses, [r.loss for r in result.history])
    assert ax.get_lines()[-1].get_ydata()[0] == pytest.approx(result.final_loss)  # dashed line
    assert all(float(t).is_integer() for t in ax.get_xticks())


def test_plot_of_an_exact_run_is_a_line_on_a_given_axis():
    result = fitted(None)
    figure = Figure()
    ax = figure.add_subplot()
    assert result.plot(ax=ax) is figure
    assert not ax.containers and len(ax.get_lines()) == 2  # the losses and the final loss


def test_plot_without_matplotlib_names_the_extra(monkeypatch):
    result = fitted(None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(
        qt.ConfigError, match=r"FitResult.plot\(\) needs .*pip install 'qtrain\[plot\]'"
    ):
        result.plot()
