import errno
import json
import os

import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import DiskFullError, NotReadableError, NotWritableError, StorageError
from qtrain.testing import make_record
from qtrain.train.checkpoint import (
    Checkpoint,
    load_checkpoint,
    save_checkpoint,
    write_json_atomic,
)
from qtrain.train.records import StepRecord


def record(step):
    return make_record(
        step,
        loss=-1.0 + step,
        loss_stderr=0.1,
        grad_norm=0.5,
        grad_norm_stderr=0.05,
        grad_snr=10.0,
        shots=100,
        shots_total=100 * (step + 1),
        circuits=3,
        seconds=0.01,
        elapsed=0.01 * (step + 1),
        method="param-shift",
        calibration_ids=("cal-1",),
        gradient=(0.1, 0.2),
    )


def checkpoint(steps=2):
    rng = np.random.Generator(np.random.PCG64(7))
    rng.integers(0, 10, 5)
    theta = np.array([0.1, 1 / 3, np.pi, -2.5e-300])
    return Checkpoint(
        "abc" * 10,
        7,
        steps,
        theta,
        {"step": steps, "m": [1 / 7, 0.2]},
        dict(rng.bit_generator.state),
        100 * steps,
        0.5,
        steps,
        record(steps - 1),
    )


def test_checkpoint_round_trip_is_exact(tmp_path):
    original = checkpoint()
    save_checkpoint(tmp_path / "c.json", original)
    loaded = load_checkpoint(tmp_path / "c.json")
    assert loaded.theta.tobytes() == original.theta.tobytes()
    assert loaded.optimizer_state == original.optimizer_state
    assert loaded.rng_state == original.rng_state
    assert loaded.records == 2 and loaded.last_record.loss == original.last_record.loss
    assert loaded.last_record.gradient == ()  # vectors live in metrics.jsonl
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = loaded.rng_state
    expected = np.random.Generator(np.random.PCG64(7))
    expected.integers(0, 10, 5)
    assert rng.integers(0, 1 << 60) == expected.integers(0, 1 << 60)


def test_checkpoint_size_does_not_grow_with_the_run(tmp_path):
    save_checkpoint(tmp_path / "early.json", checkpoint(steps=3))
    save_checkpoint(tmp_path / "late.json", checkpoint(steps=30_000))
    early, late = (tmp_path / "early.json").stat().st_size, (tmp_path / "late.json").stat().st_size
    assert late - early < 40  # a few more digits, not 510 B per step
    assert "history" not in json.loads((tmp_path / "late.json").read_text())


def test_checkpoint_reads_format_1_with_its_whole_history(tmp_path):
    old = checkpoint().to_dict()
    old["format"] = "qtrain.checkpoint/1"
    old["history"] = [record(k).to_dict(with_gradient=False) for k in range(2)]
    del old["records"], old["last_record"]
    loaded = Checkpoint.from_dict(old)
    assert loaded.records == 2
    assert loaded.last_record == StepRecord.from_dict(old["history"][-1])
    old["history"] = []
    assert Checkpoint.from_dict(old).records == 0 and Checkpoint.from_dict(old).last_record is None


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "data.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert os.listdir(tmp_path) == ["data.json"]


def test_load_checkpoint_errors_are_clear(tmp_path):
    with pytest.raises(qt.CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "missing.json")
    (tmp_path / "torn.json").write_text('{"format": "qtrain.check')
    with pytest.raises(qt.CheckpointError, match="not valid JSON"):
        load_checkpoint(tmp_path / "torn.json")
    (tmp_path / "other.json").write_text('{"format": "something/2"}')
    with pytest.raises(qt.CheckpointError, match="format"):
        load_checkpoint(tmp_path / "other.json")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(qt.CheckpointError, match="not text"):
        load_checkpoint(tmp_path / "binary.json")
    data = checkpoint().to_dict()
    del data["theta"]
    (tmp_path / "partial.json").write_text(json.dumps(data))
    with pytest.raises(qt.CheckpointError, match="incomplete"):
        load_checkpoint(tmp_path / "partial.json")


def test_checkpoint_refuses_another_config(tmp_path):
    with pytest.raises(qt.CheckpointMismatchError, match="abcabcabcabc"):
        checkpoint().check_config("f" * 64, tmp_path / "c.json")
    checkpoint().check_config("abc" * 10, tmp_path / "c.json")  # the same config is accepted


def test_checkpoint_keeps_the_monitor_state_and_reads_old_files(tmp_path):
    from dataclasses import replace  # noqa: PLC0415 - only here

    state = {"snr": [0.5, 1.25], "factor": 2.0, "active_layers": 0, "alarm": True, "fired": 1}
    save_checkpoint(tmp_path / "c.json", replace(checkpoint(), monitor_state=state))
    assert load_checkpoint(tmp_path / "c.json").monitor_state == state
    old = checkpoint().to_dict()
    del old["monitor_state"]  # a checkpoint written before monitors existed
    assert Checkpoint.from_dict(old).monitor_state is None


def test_atomic_write_on_a_full_disk_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path, fill_disk
):
    path = tmp_path / "checkpoint.json"
    write_json_atomic(path, {"step": 1})
    fill_disk("checkpoint.json")
    with pytest.raises(DiskFullError, match=r"disk full: cannot write .*checkpoint\.json") as info:
        save_checkpoint(path, checkpoint())
    assert isinstance(info.value, OSError) and info.value.path == str(path)
    assert json.loads(path.read_text()) == {"step": 1}
    assert os.listdir(tmp_path) == ["checkpoint.json"]  # no .checkpoint.json.<pid>.tmp


@pytest.mark.parametrize(
    ("where", "code", "error"),
    [
        ("replace", errno.ENOSPC, DiskFullError),
        ("fsync", errno.EIO, StorageError),
        ("replace", errno.EROFS, NotWritableError),
    ],
)
def test_atomic_write_failures_are_storage_errors_and_leave_no_temporary(
    tmp_path, monkeypatch, where, code, error
):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, where, fail)
    with pytest.raises(error, match=r"run\.json"):
        write_json_atomic(tmp_path / "run.json", {"a": 1})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_atomic_write_interrupted_leaves_no_temporary(tmp_path, monkeypatch):
    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_json_atomic(tmp_path / "summary.json", {"a": 1})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_unreadable_checkpoint_is_a_storage_error_naming_it(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.json"
    save_checkpoint(path, checkpoint())

    def denied(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(type(path), "read_text", denied)
    with pytest.raises(NotReadableError, match=r"permission denied: cannot read the checkpoint"):
        load_checkpoint(path)
