"""Failures of the environment during a run: one clear error, nothing lost, exact resume.

Each test breaks the run folder the way an operator meets it — a full disk in the result store,
in the checkpoint or in metrics.jsonl, a folder turned read-only, a damaged store or history —
checks the error and what is left on disk, then resumes and compares with a run that never
broke: θ bit for bit, the shot ledger and every loss.
"""

import errno
import functools
import json
import logging
import os
import sqlite3

import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import (
    CorruptFileError,
    DiskFullError,
    NotReadableError,
    NotWritableError,
    StorageError,
)
from qtrain.exec.store import ResultStore
from qtrain.train.checkpoint import load_checkpoint
from qtrain.train.tracking import read_metrics

STEPS = 6


def vqe():
    circuit = qt.ansatz.hardware_efficient(3, 2)
    H = qt.Z(0) @ qt.Z(1) + 0.5 * qt.X(2) - 0.3 * qt.Z(1)
    return qt.Objective.single(circuit, H), np.full(circuit.n_params, 0.3)


def run(run_dir, *, resume=False, trackers=(), backend=None, steps=STEPS):
    objective, theta0 = vqe()
    return qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.05),
        shots=100,
        seed=11,
        budget=qt.Budget(max_steps=steps),
        run_dir=run_dir,
        resume=resume,
        trackers=trackers,
        backend=backend,
    )


@functools.cache
def straight():
    objective, theta0 = vqe()
    return qt.fit(
        objective, theta0, qt.optim.Adam(0.05), shots=100, seed=11, budget=qt.Budget(max_steps=6)
    )


def assert_as_if_never_broken(result):
    reference = straight()
    assert result.theta.tobytes() == reference.theta.tobytes()
    assert result.shots == reference.shots
    assert [r.loss for r in result.history] == [r.loss for r in reference.history]
    assert result.steps == STEPS


def leftovers(run_dir):
    """Temporary and probe files a failure must not leave behind."""
    return sorted(p.name for p in run_dir.iterdir() if p.name.startswith("."))


class At:
    """A tracker that calls ``action`` when step ``step`` is logged (before its checkpoint)."""

    def __init__(self, step, action):
        self.step, self.action = step, action

    def start(self, info):
        pass

    def log(self, record):
        if record.step == self.step:
            self.action()

    def finish(self, summary):
        pass


class Counting:
    """The local simulator, counting its calls."""

    name = "counting"

    def __init__(self):
        self.inner, self.calls = qt.LocalSimulator(), 0

    @property
    def limits(self):
        return self.inner.limits

    def run(self, tasks):
        self.calls += 1
        return self.inner.run(tasks)


@pytest.fixture
def disk(monkeypatch, fill_disk):
    """Switches that fill the disk: for the result store, or for files with a given name.

    A full file system makes ``write`` fail with ENOSPC after part of the data (here: half)
    went in (``fill_disk``); SQLite then answers "database or disk is full".
    """

    def store_full(conn, records):
        raise sqlite3.OperationalError("database or disk is full")

    class Disk:
        @staticmethod
        def fill(name):
            return lambda: fill_disk(name)

        @staticmethod
        def fill_store():
            return lambda: monkeypatch.setattr(ResultStore, "_insert", staticmethod(store_full))

        @staticmethod
        def free():
            monkeypatch.undo()

    return Disk


def test_a_full_disk_under_the_store_stops_after_the_step_and_loses_nothing(tmp_path, disk):
    with pytest.raises(DiskFullError) as info:
        run(tmp_path, trackers=[At(2, disk.fill_store())])
    message = str(info.value)
    assert "finished row(s) of step 3 could not be written to" in message
    assert "results.sqlite" in message and "its checkpoint (step 4) is saved" in message
    assert f"qtrain resume {tmp_path}" in message and "\n" not in message
    assert info.value.path == str(tmp_path / "results.sqlite")
    assert load_checkpoint(tmp_path / "checkpoint.json").step == 4 and leftovers(tmp_path) == []
    disk.free()
    resumed = run(tmp_path, resume=True)
    assert_as_if_never_broken(resumed)
    assert len(read_metrics(tmp_path / "metrics.jsonl")) == STEPS


@pytest.mark.parametrize("store_full", [False, True])
def test_a_full_disk_under_the_checkpoint_keeps_the_last_one_and_no_temporary_file(
    tmp_path, disk, store_full
):
    trackers = [At(3, disk.fill("checkpoint.json"))]
    if store_full:
        trackers.append(At(2, disk.fill_store()))
    with pytest.raises(DiskFullError) as info:
        run(tmp_path, trackers=trackers)
    message = str(info.value)
    assert f"disk full: cannot write {tmp_path / 'checkpoint.json'}" in message
    assert "step 3 finished but could not be saved" in message
    assert "the checkpoint at step 3 is intact" in message
    if store_full:
        assert "of its finished row(s) that could not be stored are computed (and paid" in message
    else:
        assert "reading its finished rows back from the store" in message
    assert leftovers(tmp_path) == []  # no .checkpoint.json.<pid>.tmp holding the space
    assert load_checkpoint(tmp_path / "checkpoint.json").step == 3
    disk.free()
    resumed = run(tmp_path, resume=True)
    assert_as_if_never_broken(resumed)
    assert (resumed.history[3].cached == 0) == store_full  # stored rows are read back


def test_a_full_disk_under_metrics_leaves_no_torn_line(tmp_path, disk):
    with pytest.raises(DiskFullError, match=r"cannot append a step record to .*metrics\.jsonl"):
        run(tmp_path, trackers=[At(3, disk.fill("metrics.jsonl"))])
    assert (tmp_path / "metrics.jsonl").read_text().count("\n") == 4
    assert len(read_metrics(tmp_path / "metrics.jsonl")) == 4
    assert load_checkpoint(tmp_path / "checkpoint.json").step == 4 and leftovers(tmp_path) == []
    disk.free()
    resumed = run(tmp_path, resume=True)
    assert_as_if_never_broken(resumed)
    assert resumed.history[4].cached > 0


def test_permission_lost_mid_run_is_one_error_and_the_resume_is_exact(tmp_path, monkeypatch):
    real_replace = os.replace

    def denied(source, target):
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(target))

    def revoke():
        monkeypatch.setattr(os, "replace", denied)

    with pytest.raises(NotWritableError, match="permission denied: cannot write") as info:
        run(tmp_path, trackers=[At(2, revoke)])
    assert "the checkpoint at step 2 is intact" in str(info.value)
    monkeypatch.setattr(os, "replace", real_replace)
    assert leftovers(tmp_path) == []
    assert_as_if_never_broken(run(tmp_path, resume=True))


def read_only(monkeypatch, folder):
    """Files can be read in ``folder`` but not created or written: a read-only mount."""
    real_open = os.open

    def fake_open(path, flags, *args, **kwargs):
        if os.fspath(path).startswith(str(folder)) and flags & (os.O_WRONLY | os.O_RDWR):
            raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)


def test_a_read_only_run_folder_is_refused_before_any_work(tmp_path, monkeypatch):
    backend = Counting()
    read_only(monkeypatch, tmp_path / "new")
    (tmp_path / "new").mkdir()
    with pytest.raises(NotWritableError, match=r"read-only file system: cannot write in the run"):
        run(tmp_path / "new", backend=backend)
    monkeypatch.undo()
    run(tmp_path / "old", steps=2)
    before = (tmp_path / "old" / "checkpoint.json").read_bytes()
    read_only(monkeypatch, tmp_path / "old")
    with pytest.raises(NotWritableError, match="nothing was run"):
        run(tmp_path / "old", resume=True, backend=backend)
    monkeypatch.undo()
    assert backend.calls == 0 and (tmp_path / "old" / "checkpoint.json").read_bytes() == before
    assert_as_if_never_broken(run(tmp_path / "old", resume=True))


def test_a_read_only_file_system_is_refused_for_real_and_resume_is_exact(tmpfs):
    tmpfs.remount("size=8m")
    run_dir = tmpfs.path / "run"
    run(run_dir, steps=2)
    before = (run_dir / "checkpoint.json").read_bytes()
    tmpfs.remount("ro")
    with pytest.raises(NotWritableError, match="read-only"):
        run(run_dir, resume=True)
    tmpfs.remount("rw")
    assert (run_dir / "checkpoint.json").read_bytes() == before and leftovers(run_dir) == []
    assert_as_if_never_broken(run(run_dir, resume=True))


@pytest.mark.parametrize("how", ["garbage", "truncated"])
def test_a_damaged_store_is_quarantined_and_the_resume_is_exact(tmp_path, caplog, how):
    run(tmp_path, steps=3)
    store = tmp_path / "results.sqlite"
    data = store.read_bytes()
    store.write_bytes(b"not a database\n" * 100 if how == "garbage" else data[: len(data) // 3])
    with caplog.at_level(logging.WARNING, logger="qtrain"):
        resumed = run(tmp_path, resume=True)
    assert_as_if_never_broken(resumed)
    (aside,) = tmp_path.glob("results.sqlite.corrupt-*")
    events = [r for r in caplog.records if getattr(r, "event", "") == "store.quarantined"]
    assert len(events) == 1 and events[0].fields["moved_to"] == str(aside)


def test_an_unreadable_store_is_an_error_naming_it(tmp_path, monkeypatch):
    run(tmp_path, steps=2)
    real_open, store = os.open, str(tmp_path / "results.sqlite")

    def denied(path, flags, *args, **kwargs):
        if os.fspath(path) == store:
            raise PermissionError(errno.EACCES, "Permission denied", store)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(NotReadableError, match=r"permission denied: cannot read .*results\.sqlite"):
        run(tmp_path, resume=True)
    monkeypatch.undo()
    assert_as_if_never_broken(run(tmp_path, resume=True))


def test_lines_after_the_checkpoint_and_a_torn_line_are_dropped_on_resume(tmp_path, caplog):
    run(tmp_path, steps=3)
    metrics = tmp_path / "metrics.jsonl"
    lines = metrics.read_text().splitlines(keepends=True)
    metrics.write_text("".join(lines) + lines[-1].replace('"step": 2', '"step": 3') + '{"ste')
    with caplog.at_level(logging.WARNING, logger="qtrain.train"):
        resumed = run(tmp_path, resume=True)
    assert_as_if_never_broken(resumed)
    assert [r.step for r in read_metrics(metrics)] == list(range(STEPS))
    assert any(getattr(r, "event", "") == "metrics.repaired" for r in caplog.records)


def test_garbage_in_metrics_is_a_clear_error_before_any_work(tmp_path):
    run(tmp_path, steps=3)
    metrics = tmp_path / "metrics.jsonl"
    lines = metrics.read_text().splitlines(keepends=True)
    metrics.write_text(lines[0] + "#&!garbage\n" + lines[2])
    backend = Counting()
    with pytest.raises(CorruptFileError, match=r"metrics\.jsonl line 2 is not a step record"):
        run(tmp_path, resume=True, backend=backend)
    assert backend.calls == 0
    metrics.write_text("".join(lines[:2]))  # a record lost
    with pytest.raises(CorruptFileError, match="fewer than the 3 the checkpoint vouches for"):
        run(tmp_path, resume=True)


def test_a_format_1_checkpoint_with_its_history_still_resumes_exactly(tmp_path):
    run(tmp_path, steps=3)
    path = tmp_path / "checkpoint.json"
    data = json.loads(path.read_text())
    history = [r.to_dict(with_gradient=False) for r in read_metrics(tmp_path / "metrics.jsonl")]
    data.update(format="qtrain.checkpoint/1", history=history)
    del data["records"], data["last_record"]
    path.write_text(json.dumps(data))
    resumed = run(tmp_path, resume=True)
    assert_as_if_never_broken(resumed)
    assert json.loads(path.read_text())["format"] == "qtrain.checkpoint/2"


def test_the_checkpoint_stays_the_same_size_however_long_the_run(tmp_path):
    objective = qt.Objective.single(qt.ansatz.hardware_efficient(2, 1), qt.Z(0) @ qt.Z(1))
    sizes = []
    for steps in (10, 300):
        qt.fit(
            objective,
            np.full(4, 0.3),
            qt.optim.Adam(0.001),
            method="adjoint",
            seed=1,
            budget=qt.Budget(max_steps=steps),
            run_dir=tmp_path / str(steps),
        )
        sizes.append((tmp_path / str(steps) / "checkpoint.json").stat().st_size)
    assert abs(sizes[1] - sizes[0]) < 40, sizes  # it was ~510 B more per step


@pytest.mark.parametrize(
    "stop",
    [
        qt.StopRules(loss_tolerance=2e-3, patience=3),
        qt.StopRules(grad_snr_below=2.0, patience=3),
    ],
    ids=["loss_tolerance", "grad_snr_below"],
)
def test_stop_rules_see_the_history_from_before_the_resume(tmp_path, stop):
    objective, theta0 = vqe()
    common = {"shots": 200, "seed": 5, "stop": stop}
    whole = qt.fit(objective, theta0, qt.optim.Adam(0.1), budget=qt.Budget(max_steps=300), **common)
    assert whole.stopped_by != "max_steps"
    cut = whole.steps - 2  # the rule's window spans the resume
    qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.1),
        budget=qt.Budget(max_steps=cut),
        run_dir=tmp_path,
        **common,
    )
    resumed = qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.1),
        budget=qt.Budget(max_steps=300),
        run_dir=tmp_path,
        resume=True,
        **common,
    )
    assert (resumed.stopped_by, resumed.steps) == (whole.stopped_by, whole.steps)
    assert resumed.theta.tobytes() == whole.theta.tobytes()


def test_a_really_full_disk_stops_the_run_cleanly_and_resume_is_exact(tmpfs):
    run_dir = tmpfs.path / "run"
    with pytest.raises(StorageError) as info:
        run(run_dir)
    assert "disk full" in str(info.value) and leftovers(run_dir) == []
    tmpfs.remount("size=8m")
    assert_as_if_never_broken(run(run_dir, resume=True))
