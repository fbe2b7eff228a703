"""The report's charts write numbers as its tables do: log ticks and the exact minimum (#18)."""

import numpy as np
import pytest

from qtrain.display import number
from qtrain.observe import plots
from qtrain.observe.report_tables import rounded
from qtrain.testing import make_record


def records(norms, snrs, gradient=(0.3, -0.01, 1e-4)):
    return [
        make_record(
            k,
            loss=-1.0 + 0.5**k,
            loss_stderr=0.01,
            grad_norm=norm,
            grad_norm_stderr=0.02,
            grad_snr=snr,
            shots=1000,
            shots_total=1000 * (k + 1),
            circuits=6,
            gradient=gradient,
        )
        for k, (norm, snr) in enumerate(zip(norms, snrs, strict=True))
    ]


def texts(axis):
    """Every non-empty tick label of ``axis`` as drawn, major and minor, raw text."""
    labels = [*axis.get_ticklabels(), *axis.get_ticklabels(minor=True)]
    return [label.get_text() for label in labels if label.get_text()]


def plain(text):
    return text.replace("\u2212", "-")


@pytest.mark.parametrize(
    ("norms", "snrs"),
    [
        ([0.4, 0.05, 0.003, 2e-4, 1e-5], [30.0, 8.0, 2.0, 0.5, 0.1]),  # several decades
        ([0.45, 0.4, 0.35, 0.3, 0.25], [3.0, 2.8, 2.5, 2.2, 2.0]),  # a fraction of one
    ],
    ids=["decades", "short-range"],
)
def test_log_axes_label_ticks_as_plain_numbers(norms, snrs):
    figure = plots._gradient(records(norms, snrs), None, None)
    figure.canvas.draw()
    panels = [axes for axes in figure.axes if axes.get_yscale() == "log"]
    assert len(panels) == 2
    for axes in panels:
        labels = texts(axes.yaxis)
        assert labels, axes.get_ylabel()
        for label in labels:  # no mathtext (10^{-2}, 2×10^{-1}), each as number() writes it
            assert "$" not in label and "^" not in label, labels
            assert number(float(plain(label))) == plain(label), labels


def test_the_heatmap_colour_bar_labels_plain_numbers():
    figure = plots._heatmap(records([0.1] * 4, [1.0] * 4, (0.3, -0.01, 1e-4, 2e-6)), None, None)
    figure.canvas.draw()
    (colorbar,) = [axes for axes in figure.axes if axes.get_label() == "<colorbar>"]
    labels = texts(colorbar.yaxis)
    assert labels and all("$" not in label for label in labels), labels
    assert all(number(float(plain(label))) == plain(label) for label in labels), labels


@pytest.mark.parametrize("exact", [-1.1372838344885, -1234.5678912, 3.0e-7])
def test_the_exact_minimum_is_labelled_as_the_summary_table_shows_it(exact):
    figure = plots._loss(records([0.1] * 3, [1.0] * 3), exact, None)
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert f"exact {rounded(exact)}" in legend, legend


def test_the_report_facts_of_log_axes_are_numbers():
    figures = plots.render_figures(records([0.4, 0.05, 0.003], [30.0, 2.0, 0.1]))
    facts = figures["gradient"][1]
    ticks = [t for axes in facts for t in axes["yticks"]]
    assert ticks and all(np.isfinite(float(t)) for t in ticks), ticks
