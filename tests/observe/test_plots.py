import dataclasses

import numpy as np

from qtrain.observe.plots import (
    HEATMAP_PERCENTILES,
    PLOTS,
    _colour_limits,
    render_figures,
    render_plots,
)
from qtrain.testing import make_record

PNG = b"\x89PNG\r\n\x1a\n"


def records(steps=5, *, shots=True, gradient=(0.3, -0.01, 0.0)):
    out = []
    for k in range(steps):
        out.append(
            make_record(
                k,
                loss=-1.0 + 0.5**k,
                loss_stderr=0.01 if shots else None,
                grad_norm=0.4 / (k + 1),
                grad_norm_stderr=0.02 if shots else None,
                grad_snr=20.0 / (k + 1) if shots else None,
                shots=1000 if shots else 0,
                shots_total=1000 * (k + 1) if shots else 0,
                circuits=6,
                retries=k % 2,
                failures=3 * (k % 2),
                seconds=0.01,
                elapsed=0.01 * (k + 1),
                method="param-shift",
                calibration_ids=(f"cal-{k // 2}",),
                gradient=gradient,
                monitor={"decision": "warn"} if k == 3 else None,
            )
        )
    return out


def test_every_plot_is_a_png_and_differs_with_its_inputs():
    pngs = render_plots(records(), exact_value=-1.0, max_shots=10_000)
    assert tuple(pngs) == PLOTS
    assert all(data.startswith(PNG) and len(data) > 5_000 for data in pngs.values())
    other = render_plots(records(), exact_value=None, max_shots=None)
    assert other["loss"] != pngs["loss"] and other["shots"] != pngs["shots"]
    assert other["gradient_heatmap"] == pngs["gradient_heatmap"]  # same gradients


def test_exact_runs_plot_without_error_bars_and_no_heatmap_without_vectors():
    exact = render_plots(records(shots=False))
    assert exact["gradient"].startswith(PNG) and "shots" not in exact
    no_vectors = [dataclasses.replace(r, gradient=()) for r in records()]
    assert "gradient_heatmap" not in render_plots(no_vectors)
    assert render_plots([]) == {}


def test_a_single_step_with_many_parameters_renders():
    pngs = render_plots(records(1, gradient=tuple(0.1 * k for k in range(30))))
    assert set(pngs) == set(PLOTS) - {"reliability"}  # step 0 had no retry nor failure


def _step_ticks_are_integers(facts):
    ticks = [t for axes in facts if axes["xlabel"] == "step" for t in axes["xticks"]]
    return bool(ticks) and all(float(t.replace(",", "")).is_integer() for t in ticks)


def test_no_chart_is_drawn_without_data():
    """An exact run has no shots chart and no SNR panel; no retries means no retries chart."""
    quiet = [
        dataclasses.replace(r, retries=0, failures=0, cached=0, calibration_ids=())
        for r in records(shots=False)
    ]
    figures = render_figures(quiet)
    assert list(figures) == ["loss", "gradient", "gradient_heatmap"]
    (gradient_axes,) = figures["gradient"][1]  # one panel: the norm, no empty SNR panel
    assert gradient_axes["ylabel"] == "gradient norm" and gradient_axes["xlabel"] == "step"
    assert all(axes["artists"] > 0 for _, facts in figures.values() for axes in facts)
    shots = render_figures(records())
    assert set(shots) == set(PLOTS) and len(shots["gradient"][1]) == 2
    one_calibration = [dataclasses.replace(r, calibration_ids=("cal-0",)) for r in quiet]
    assert "reliability" not in render_figures(one_calibration)


def test_step_axes_have_integer_ticks():
    for steps in (2, 4, 5, 7, 30):
        figures = render_figures(records(steps), max_shots=50_000)
        for name, (_, facts) in figures.items():
            assert _step_ticks_are_integers(facts), (steps, name, facts)


def test_the_heatmap_colour_scale_ignores_outliers():
    magnitudes = np.full((4, 50), 0.1)
    magnitudes[0, :] = np.geomspace(0.01, 1.0, 50)
    magnitudes[2, 7] = 1e6  # one wild component
    magnitudes[3, 9] = 1e-30
    low, high = _colour_limits(magnitudes)
    assert 1e-3 < low < 0.1 < high < 10
    assert HEATMAP_PERCENTILES == (2.0, 98.0)
