import json
import logging
import os

import pytest

from qtrain.errors import CorruptFileError
from qtrain.testing import make_record
from qtrain.train.history import read_metrics, truncate_metrics, vouched_history
from qtrain.train.tracking import JsonlTracker


def record(step):
    return make_record(step, loss=1.0 / (step + 1), gradient=(0.5, -0.25), monitor=None)


def write(path, steps):
    tracker = JsonlTracker(path)
    for k in range(steps):
        tracker.log(record(k))
    tracker.close()


def test_vouched_history_reads_the_records_the_checkpoint_vouches_for(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write(path, 4)
    before = path.read_bytes()
    history = vouched_history(path, 4, record(3))
    assert history == [record(k) for k in range(4)]  # gradients included
    assert path.read_bytes() == before  # nothing to repair: the file is left alone


def test_vouched_history_drops_unvouched_and_torn_lines_atomically(tmp_path, caplog):
    path = tmp_path / "metrics.jsonl"
    write(path, 5)  # steps 3 and 4 logged, but the checkpoint is at step 3
    with open(path, "ab") as handle:
        handle.write(b'{"step": 5, "lo')  # torn by a crash
    inode = path.stat().st_ino
    with caplog.at_level(logging.WARNING, logger="qtrain.train"):
        history = vouched_history(path, 3, record(2))
    assert history == [record(k) for k in range(3)]
    assert read_metrics(path) == history and path.read_bytes().endswith(b"}\n")
    assert path.stat().st_ino != inode  # a new file renamed over the old: never cut in place
    assert os.listdir(tmp_path) == ["metrics.jsonl"]
    (event,) = [r for r in caplog.records if getattr(r, "event", "") == "metrics.repaired"]
    assert event.fields["dropped"] == 3 and "dropped 3 line(s) after record 3" in event.message


def test_garbage_in_a_vouched_line_is_a_clear_error_naming_the_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write(path, 4)
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = "\x00\x00garbage\n"
    path.write_text("".join(lines))
    with pytest.raises(CorruptFileError, match=r"metrics\.jsonl line 3 is not a step record"):
        vouched_history(path, 4, record(3))
    with pytest.raises(CorruptFileError, match="line 3"):
        read_metrics(path)
    lines[2] = '{"step": 2}\n'  # JSON, but not a record
    path.write_text("".join(lines))
    with pytest.raises(CorruptFileError, match="line 3 is not a step record"):
        vouched_history(path, 4, record(3))


def test_missing_or_short_or_foreign_history_is_a_clear_error(tmp_path):
    path = tmp_path / "metrics.jsonl"
    assert vouched_history(path, 0, None) == []  # killed before its first step
    with pytest.raises(CorruptFileError, match="missing"):
        vouched_history(path, 2, record(1))
    write(path, 2)
    with pytest.raises(CorruptFileError, match="holds 2 complete records, fewer than the 3"):
        vouched_history(path, 3, record(2))
    other = make_record(1, loss=-7.0)
    with pytest.raises(CorruptFileError, match="line 2 is not the record the checkpoint vouches"):
        vouched_history(path, 2, other)


def test_the_comparison_with_the_checkpoint_tolerates_nan_losses(tmp_path):
    path = tmp_path / "metrics.jsonl"
    tracker = JsonlTracker(path)
    nan = make_record(0, loss=float("nan"))
    tracker.log(nan)
    tracker.close()
    (loaded,) = vouched_history(path, 1, json_round_trip(nan))
    assert loaded.step == 0


def json_round_trip(r):
    return type(r).from_dict(json.loads(json.dumps(r.to_dict(with_gradient=False))))


def test_truncate_metrics_rewrites_instead_of_cutting_in_place(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write(path, 4)
    inode = path.stat().st_ino
    truncate_metrics(path, 2)
    assert read_metrics(path) == [record(0), record(1)] and path.stat().st_ino != inode
    truncate_metrics(tmp_path / "missing.jsonl", 2)  # nothing to do
