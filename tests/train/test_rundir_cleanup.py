"""Run folders that cannot be made are one clear error; unused ones can be taken back."""

import errno
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import NotWritableError
from qtrain.exec.store import StoredRow
from qtrain.train.rundir import RunDir, outermost_missing


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_a_folder_under_proc_is_not_writable_not_an_io_error():
    with pytest.raises(NotWritableError) as caught:
        RunDir(Path("/proc/qtrain-x")).create()
    message = str(caught.value)
    assert message.startswith("cannot create the run folder /proc/qtrain-x (")
    assert "nothing was run" in message and "check the disk" not in message


def test_a_file_in_the_way_or_below_is_named(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotWritableError, match="a file of that name is in the way"):
        RunDir(tmp_path / "f").create()
    with pytest.raises(NotWritableError, match=r"\(Not a directory\)"):
        RunDir(tmp_path / "f" / "run").create()


def test_a_full_disk_is_still_a_disk_full_error(tmp_path, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "mkdir", full)
    with pytest.raises(qt.DiskFullError):
        RunDir(tmp_path / "run").create()


def test_outermost_missing(tmp_path):
    assert outermost_missing(tmp_path) is None
    assert outermost_missing(tmp_path / "a" / "b" / "c") == tmp_path / "a"


def test_an_unused_folder_and_the_parents_made_for_it_are_removed(tmp_path):
    run = RunDir(tmp_path / "a" / "b" / "run").create()
    (tmp_path / "a" / "keep").mkdir()  # a sibling: "a" is not empty, so it stays
    qt.ResultStore(run.store).close()  # a store without rows
    for path in (run.config, run.run_info, run.reproduce, run.metrics):
        path.write_text("" if path == run.metrics else "{}")
    assert run.discard_if_unused(tmp_path / "a")
    assert not (tmp_path / "a" / "b").exists() and (tmp_path / "a" / "keep").is_dir()


@pytest.mark.parametrize("work", ["checkpoint", "record", "row", "other file"])
def test_a_folder_with_work_in_it_is_kept(tmp_path, work):
    run = RunDir(tmp_path / "run").create()
    if work == "checkpoint":
        run.checkpoint.write_text("{}")
    elif work == "record":
        run.metrics.write_text('{"step": 0}\n')
    elif work == "row":
        store = qt.ResultStore(run.store)
        store.put_many({"k": StoredRow(np.zeros(1), None, 0, {})})
        store.close()
    else:
        (run.path / "notes.txt").write_text("mine")
    assert not run.discard_if_unused(tmp_path / "run")
    assert run.path.is_dir()


def test_an_unreadable_store_counts_as_work(tmp_path):
    run = RunDir(tmp_path / "run").create()
    run.store.write_bytes(b"not sqlite" * 100)
    assert not run.discard_if_unused(run.path)
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(run.store).execute("SELECT 1 FROM results").fetchall()
