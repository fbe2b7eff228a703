from qtrain.train.records import StepRecord
from qtrain.train.tracking import JsonlTracker, Tracker, read_metrics, truncate_metrics


def record(step):
    return StepRecord(
        step,
        float(step),
        None,
        1.0,
        None,
        None,
        0.1,
        0,
        0,
        1,
        0,
        0,
        0,
        0.0,
        0.0,
        "adjoint",
        (),
        (0.5,),
    )


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
