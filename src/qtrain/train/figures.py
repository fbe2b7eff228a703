"""``FitResult.plot()``: the measured loss against the step, with its error bars.

A figure for a notebook or a script (the ``plot`` extra); the run report's richer panels are
``qtrain.observe.plots``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from qtrain.diagnostics.plot import new_figure
from qtrain.train.records import StepRecord

__all__ = ["plot_history"]


def plot_history(
    history: Sequence[StepRecord], *, final_loss: float | None = None, ax: Any = None
) -> Any:
    """Loss ``(K,)`` against step ``(K,)`` with ±1 standard-error bars, on ``ax`` or a new figure.

    Exact losses (no standard error) are drawn as a line with markers; the exact loss at the
    final parameters, when known, as a dashed horizontal line.

    Returns:
        The matplotlib ``Figure``.
    """
    if ax is None:
        figure = new_figure("FitResult.plot()", size=(6.4, 4.0))
        ax = figure.add_subplot()
    else:
        figure = ax.figure
    steps = np.array([r.step for r in history], dtype=np.int64)
    loss = np.array([r.loss for r in history], dtype=np.float64)
    errors = np.array([np.nan if r.loss_stderr is None else r.loss_stderr for r in history])
    if np.all(np.isnan(errors)):
        ax.plot(steps, loss, marker=".", color="C0", label="loss")
    else:
        ax.errorbar(
            steps, loss, yerr=np.nan_to_num(errors), fmt=".-", color="C0", capsize=2,
            label="measured loss ± 1 s.e.",
        )  # fmt: skip
    if final_loss is not None:
        ax.axhline(
            final_loss, color="black", ls="--", lw=1, label=f"final (exact) {final_loss:.6g}"
        )
    ax.xaxis.get_major_locator().set_params(integer=True)  # steps are whole numbers
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"training: {len(history)} steps")
    if len(history):
        ax.legend(fontsize="small")
    return figure
