"""A progress display fed by step records: ``qt.fit(..., progress=True)`` and the CLI's bar.

One :class:`ProgressTracker` (a :class:`~qtrain.train.tracking.Tracker`) shows the step count,
the loss ± its standard error, ``‖g‖``, the shots against the budget and the time left. It
draws where it runs:

* a terminal: a rich progress bar, redrawn in place;
* a console that is not a terminal (a file, a pipe, a captured stream): the final line once,
  whole (never cut to the console's width);
* Jupyter (the console is a notebook's): an HTML ``<progress>`` line updated in place through
  an IPython display handle — it needs IPython only, not ``ipywidgets``.

When the run ends the bar is complete and says why: a run stopped early by a rule reads
``32/32 … stopped by loss_tolerance``, not ``32/60``.
"""

from __future__ import annotations

import html
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Column
from rich.text import Text

from qtrain.display import compact, value_with_error
from qtrain.train.records import StepRecord

__all__ = ["ProgressLine", "ProgressTracker"]


@dataclass(frozen=True)
class ProgressLine:
    """What the display shows at one moment (text fields already formatted).

    Attributes:
        done: steps finished; ``total`` the steps the budget allows (or done, once over).
        loss: ``-1.1362 ± 0.0004`` (``-`` before the first step).
        grad: ``‖g‖`` (``-`` before the first step).
        shots: ``3.4M/10M``: spent, and the budget when there is one.
        status: empty while running; the stop reason (``max_steps``, a rule) at the end.
    """

    done: int
    total: int
    loss: str = "-"
    grad: str = "-"
    shots: str = "0"
    status: str = ""

    def text(self) -> str:
        """One plain line: ``12/60 loss -0.9 ± 0.01 |g| 1.2e-01 shots 12k/1M``."""
        line = f"{self.done}/{self.total} loss {self.loss} |g| {self.grad} shots {self.shots}"
        return f"{line} stopped by {self.status}" if self.status else line

    def _repr_html_(self) -> str:
        bar = f"<progress value='{self.done}' max='{max(self.total, 1)}'></progress>"
        return f"<div><code>{bar} {html.escape(self.text())}</code></div>"

    def __repr__(self) -> str:
        return self.text()


class _View(Protocol):
    def show(self, line: ProgressLine) -> None: ...

    def close(self, line: ProgressLine) -> None: ...


class _StatusColumn(TimeRemainingColumn):
    """The time left while the run goes; why it stopped once it has."""

    def render(self, task: Task) -> Text:
        status = task.fields.get("status")
        return Text(f"stopped by {status}") if status else Text("ETA ") + super().render(task)


class _RichView:
    """A rich progress bar on a terminal ``console``, redrawn in place."""

    def __init__(self, console: Console, line: ProgressLine) -> None:
        self._progress = Progress(
            BarColumn(bar_width=12),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            TextColumn("loss {task.fields[loss]}  |g| {task.fields[grad]}"),
            TextColumn("shots {task.fields[shots]}", table_column=Column(no_wrap=True)),
            _StatusColumn(compact=True, table_column=Column(no_wrap=True)),
            console=console,
            transient=False,
        )
        self._progress.start()
        self._task: TaskID = self._progress.add_task("train", **self._fields(line))

    @staticmethod
    def _fields(line: ProgressLine) -> dict[str, Any]:
        return {
            "completed": line.done,
            "total": line.total,
            "loss": line.loss,
            "grad": line.grad,
            "shots": line.shots,
            "status": line.status,
        }

    def show(self, line: ProgressLine) -> None:
        self._progress.update(self._task, **self._fields(line))

    def close(self, line: ProgressLine) -> None:
        self.show(line)
        self._progress.stop()


class _PlainView:
    """A console that is not a terminal: the final line, once, whole."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def show(self, line: ProgressLine) -> None:
        pass  # a file or pipe gets no redraws

    def close(self, line: ProgressLine) -> None:
        self._console.print(line.text(), soft_wrap=True, highlight=False, markup=False)


class _NotebookView:
    """An HTML line in a notebook, replaced in place (``IPython.display`` display handle)."""

    def __init__(self, display: Any, line: ProgressLine) -> None:
        self._handle = display.display(line, display_id=True)

    def show(self, line: ProgressLine) -> None:
        if self._handle is not None:
            self._handle.update(line)

    def close(self, line: ProgressLine) -> None:
        self.show(line)


def _ipython_display() -> Any:
    """``IPython.display``, or ``None`` without IPython (a console forced to Jupyter mode)."""
    try:
        return importlib.import_module("IPython.display")
    except ImportError:
        return None


class ProgressTracker:
    """Follow a run with a progress display (a terminal bar, or an HTML line in Jupyter).

    Args:
        console: where to draw (default: standard error; a notebook's console when running
            in Jupyter, detected by rich).
        total_steps: the budget's ``max_steps``.
        max_shots: the budget's shots, shown as ``spent/max`` (``None``: spent only).

    >>> import io
    >>> console = Console(file=io.StringIO(), width=100)
    >>> tracker = ProgressTracker(console, total_steps=60)
    >>> tracker.start({"step": 0}); tracker.finish({"steps": 32, "stopped_by": "target"})
    >>> tracker.line.text()
    '32/32 loss - |g| - shots 0 stopped by target'
    """

    def __init__(
        self, console: Console | None = None, *, total_steps: int, max_shots: int | None = None
    ) -> None:
        self.console = console if console is not None else Console(stderr=True)
        self.total_steps, self.max_shots = total_steps, max_shots
        self.line = ProgressLine(0, total_steps, shots=self._shots(0))
        self._view: _View | None = None

    def _shots(self, spent: int) -> str:
        return compact(spent) + ("" if self.max_shots is None else f"/{compact(self.max_shots)}")

    def start(self, info: Mapping[str, Any]) -> None:  # noqa: D102 - see Tracker
        done, spent = int(info.get("step", 0)), int(info.get("shots_total", 0))
        self.line = ProgressLine(done, max(self.total_steps, done), shots=self._shots(spent))
        display = _ipython_display() if self.console.is_jupyter else None
        if display is not None:
            self._view = _NotebookView(display, self.line)
        elif self.console.is_terminal and not self.console.is_jupyter:
            self._view = _RichView(self.console, self.line)
        else:
            self._view = _PlainView(self.console)

    def log(self, record: StepRecord) -> None:  # noqa: D102 - see Tracker
        self.line = ProgressLine(
            record.step + 1,
            max(self.total_steps, record.step + 1),
            value_with_error(record.loss, record.loss_stderr, 4),
            f"{record.grad_norm:.2e}",
            self._shots(record.shots_total),
        )
        if self._view is not None:
            self._view.show(self.line)

    def finish(self, summary: Mapping[str, Any]) -> None:  # noqa: D102 - see Tracker
        done = int(summary.get("steps", self.line.done))
        shots = self.line.shots
        if summary.get("shots") is not None:
            shots = self._shots(int(summary["shots"]))
        status = str(summary.get("stopped_by") or "")
        self.line = ProgressLine(done, done, self.line.loss, self.line.grad, shots, status)
        self.close()

    def abort(self, error: BaseException) -> None:
        """The run died with ``error``: stop drawing, the last line left as it was."""
        self.close()

    def close(self) -> None:
        """Stop drawing (idempotent; ``fit`` calls it also when the run raises)."""
        if self._view is not None:
            self._view.close(self.line)
            self._view = None
