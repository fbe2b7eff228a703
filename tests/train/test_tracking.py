import dataclasses
import errno
import io
import logging
import os

import pytest

from qtrain.errors import DiskFullError, NotWritableError
from qtrain.logs import configure_logging, current_context, remove_logging
from qtrain.testing import make_record
from qtrain.train.tracking import (
    JsonlTracker,
    LogTracker,
    RunContext,
    Tracker,
    bound,
    read_metrics,
    truncate_metrics,
)


def record(step):
    return make_record(step, loss=float(step), gradient=(0.5,))


def test_jsonl_tracker_writes_one_record_per_line(tmp_path):
    tracker = JsonlTracker(tmp_path / "m.jsonl")
    assert isinstance(tracker, Tracker)
    tracker.start({})
    for k in range(3):
        tracker.log(record(k))
    tracker.finish({})
    assert read_metrics(tmp_path / "m.jsonl") == [record(k) for k in range(3)]


def test_read_metrics_ignores_a_torn_last_line_and_truncate_cuts_back(tmp_path):
    path = tmp_path / "m.jsonl"
    tracker = JsonlTracker(path)
    for k in range(4):
        tracker.log(record(k))
    tracker.finish({})
    path.write_text(path.read_text() + '{"step": 4, "lo')
    assert len(read_metrics(path)) == 4
    truncate_metrics(path, 2)
    assert read_metrics(path) == [record(0), record(1)]
    assert read_metrics(tmp_path / "missing.jsonl") == []


def test_bound_binds_trackers_and_aborts_them_when_the_run_raises():
    class Spy:
        def __init__(self):
            self.calls = []

        def bind(self, context):
            self.calls.append(("bind", context.run_id, context.backend))

        def abort(self, error):
            self.calls.append(("abort", type(error).__name__))

    spy, plain = Spy(), JsonlTracker("unused.jsonl")  # a tracker without bind/abort is fine
    with bound([spy, plain], RunContext("r")):
        pass
    try:
        with bound([spy, plain], RunContext("r")):
            raise KeyError("x")
    except KeyError:
        pass
    assert spy.calls == [("bind", "r", "unknown"), ("bind", "r", "unknown"), ("abort", "KeyError")]


def test_log_tracker_sets_the_step_of_what_follows_and_reports_changes(caplog):
    caplog.set_level(logging.INFO, logger="qtrain")
    tracker = LogTracker()
    tracker.bind(RunContext("run-7"))
    tracker.start({"config_hash": "abc", "step": 3})
    assert current_context() == {"run_id": "run-7", "step": 3}
    tracker.log(dataclasses.replace(record(3), calibration_ids=("cal-0",)))
    assert current_context()["step"] == 4  # the executor's next events belong to step 4
    tracker.log(
        dataclasses.replace(record(4), calibration_ids=("cal-1",), monitor={"decision": "stop"})
    )
    tracker.finish({"stopped_by": "max_steps", "steps": 5})
    assert current_context() == {}
    events = [(r.event, r.levelname) for r in caplog.records if hasattr(r, "event")]
    assert events == [
        ("run.start", "INFO"),
        ("step", "INFO"),
        ("step", "INFO"),
        ("calibration.change", "INFO"),
        ("monitor.decision", "WARNING"),
        ("run.finish", "INFO"),
    ]
    change = next(r for r in caplog.records if getattr(r, "event", "") == "calibration.change")
    assert change.fields["new"] == ["cal-1"] and change.fields["run_id"] == "run-7"


def test_jsonl_tracker_on_a_full_disk_leaves_no_torn_line(tmp_path, monkeypatch):
    path = tmp_path / "m.jsonl"
    tracker = JsonlTracker(path)
    tracker.log(record(0))
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(DiskFullError, match=r"cannot append a step record to .*m\.jsonl"):
        tracker.log(record(1))
    monkeypatch.undo()
    assert read_metrics(path) == [record(0)] and path.read_text().endswith("\n")
    tracker.log(record(1))  # space is back: the file goes on where it was
    tracker.finish({})
    assert read_metrics(path) == [record(0), record(1)]


def test_jsonl_tracker_in_a_folder_it_may_not_write_says_so(tmp_path, monkeypatch):
    def read_only(path, flags, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(NotWritableError, match="read-only file system"):
        JsonlTracker(tmp_path / "m.jsonl").start({})


def test_a_layerwise_decision_is_one_readable_line_labelled_layerwise():
    stream = io.StringIO()
    handler = configure_logging("human", stream=stream)
    tracker = LogTracker()
    config = {"monitor": {"policy": "layerwise", "threshold": 1.5, "window": 3}}
    tracker.bind(RunContext("lw", config=config))
    tracker.start({"step": 31})
    monitor = {
        "policy": "layerwise",
        "action": "unfreeze",
        "shot_factor": 1.0,
        "active_layers": 2,
        "snr": 0.9139057346829232,
        "component_snr_median": 0.4507879327261449,
        "below": 0.875,
        "snr_window": 1.47660647847868,
    }
    try:
        tracker.log(dataclasses.replace(record(31), monitor=monitor))
    finally:
        remove_logging(handler)
        tracker.finish({})
    (line,) = stream.getvalue().splitlines()
    assert line.endswith(
        "WARNING monitor.decision gradient SNR 1.48 (window mean) fell below 1.5: layer group 2 "
        "joins the training run=lw step=31 decision=layerwise"
    )
    assert "{" not in line and "0.9139" not in line  # no raw dict, no 16-digit floats
