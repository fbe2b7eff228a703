import io
import sys
import types

import numpy as np
import pytest
from rich.console import Console

import qtrain as qt
from qtrain.display import compact
from qtrain.testing import make_record
from qtrain.train.progress import ProgressLine, ProgressTracker


def small_problem():
    circuit = qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1)).cnot(0, 1)
    return qt.Objective.single(circuit, qt.Z(0) @ qt.Z(1)), np.array([0.5, 0.1])


def test_fit_with_progress_draws_on_standard_error(capsys):
    objective, theta0 = small_problem()
    qt.fit(objective, theta0, qt.optim.Adam(0.2), budget=qt.Budget(max_steps=4), progress=True)
    err = capsys.readouterr().err
    # not a terminal: the final line once, whole, on one line
    assert err.count("\n") == 1
    assert err.startswith("4/4 loss ") and "|g| " in err and err.rstrip().endswith("max_steps")


def test_fit_without_progress_draws_nothing(capsys):
    objective, theta0 = small_problem()
    qt.fit(objective, theta0, qt.optim.Adam(0.2), budget=qt.Budget(max_steps=2))
    assert capsys.readouterr().err == ""


def test_fit_refuses_a_progress_that_is_not_a_bool():
    objective, theta0 = small_problem()
    with pytest.raises(qt.ConfigError, match="progress must be True or False, got 'yes'"):
        qt.fit(objective, theta0, qt.optim.Adam(0.2), progress="yes")


def test_a_run_stopped_by_a_rule_ends_with_a_full_bar_and_the_reason():
    objective, theta0 = small_problem()
    file = io.StringIO()
    tracker = ProgressTracker(Console(file=file, width=60), total_steps=60, max_shots=10**7)
    result = qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.2),
        budget=qt.Budget(max_steps=60, max_shots=10**7),
        stop=qt.StopRules(target=-0.5),
        shots=100,
        seed=1,
        trackers=[tracker],
    )
    steps = result.steps
    assert steps < 60
    line = file.getvalue().strip()
    assert line.startswith(f"{steps}/{steps} loss ") and " ± " in line  # not cut at width 60
    assert f"shots {compact(result.shots)}/10M" in line
    assert line.endswith("stopped by target")


def test_a_terminal_gets_a_live_bar():
    file = io.StringIO()
    console = Console(file=file, force_terminal=True, width=120)
    tracker = ProgressTracker(console, total_steps=3)
    tracker.start({"step": 1, "shots_total": 2500})
    tracker.log(make_record(1, loss=-0.5, grad_norm=0.25, shots_total=3000))
    tracker.finish({"steps": 2, "shots": 3000, "stopped_by": "interrupted"})
    text = file.getvalue()
    assert "━" in text and "\x1b[" in text  # a drawn bar, with terminal control codes
    assert "2/2" in text and "shots 3k" in text and "stopped by interrupted" in text


def test_a_resumed_run_starts_from_its_step_and_shots():
    tracker = ProgressTracker(Console(file=io.StringIO()), total_steps=10, max_shots=10_000)
    tracker.start({"step": 4, "shots_total": 4000})
    assert tracker.line == ProgressLine(4, 10, shots="4k/10k")
    tracker.close()


class FakeHandle:
    def __init__(self, shown):
        self.shown = shown

    def update(self, obj):
        self.shown.append(obj)


@pytest.fixture
def notebook(monkeypatch):
    """A fake ``IPython.display`` recording what a notebook would show."""
    shown = []
    display = types.ModuleType("IPython.display")

    def show(obj, display_id=False):
        assert display_id is True  # updated in place, not appended
        shown.append(obj)
        return FakeHandle(shown)

    display.display = show
    package = types.ModuleType("IPython")
    package.display = display
    monkeypatch.setitem(sys.modules, "IPython", package)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    return shown


def test_in_jupyter_the_line_is_html_updated_in_place(notebook):
    objective, theta0 = small_problem()
    file = io.StringIO()
    tracker = ProgressTracker(Console(file=file, force_jupyter=True), total_steps=3)
    qt.fit(objective, theta0, qt.optim.Adam(0.2), budget=qt.Budget(max_steps=3), trackers=[tracker])
    assert file.getvalue() == ""  # nothing through the console's text stream
    assert len(notebook) == 1 + 3 + 1  # start, one update per step, the final line
    html = notebook[-1]._repr_html_()
    assert "<progress value='3' max='3'>" in html and "stopped by max_steps" in html
    assert repr(notebook[1]).startswith("1/3 loss ")


def test_a_jupyter_console_without_ipython_still_runs(monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", None)
    tracker = ProgressTracker(Console(file=io.StringIO(), force_jupyter=True), total_steps=2)
    tracker.start({})
    tracker.log(make_record(0, loss=0.5))
    tracker.finish({"steps": 1, "stopped_by": "target"})
    assert tracker.line.text().endswith("stopped by target")
