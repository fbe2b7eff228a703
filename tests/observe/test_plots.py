import dataclasses

from qtrain.observe.plots import PLOTS, render_plots
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
    assert exact["gradient"].startswith(PNG)
    no_vectors = [dataclasses.replace(r, gradient=()) for r in records()]
    assert "gradient_heatmap" not in render_plots(no_vectors)
    assert render_plots([]) == {}


def test_a_single_step_with_many_parameters_renders():
    pngs = render_plots(records(1, gradient=tuple(0.1 * k for k in range(30))))
    assert set(pngs) == set(PLOTS)
