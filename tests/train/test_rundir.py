import errno
import os
import re

import numpy as np
import pytest

from qtrain.errors import NotWritableError
from qtrain.train.rundir import RunDir, new_run_id, reproduction_info


def test_run_dir_paths(tmp_path):
    run = RunDir(tmp_path / "a" / "b").create()
    assert run.checkpoint.parent.is_dir()
    names = [p.name for p in (run.config, run.checkpoint, run.metrics, run.store, run.summary)]
    assert names == [
        "config.yaml",
        "checkpoint.json",
        "metrics.jsonl",
        "results.sqlite",
        "summary.json",
    ]


def test_run_id_and_reproduction_info():
    assert re.fullmatch(r"h2-\d{8}-\d{6}-abcdef", new_run_id("h2", "abcdef0123"))
    info = reproduction_info(42)
    assert info["seed"] == 42 and info["versions"]["numpy"] == np.__version__
    assert info["python"].count(".") == 2


def test_run_dir_that_cannot_be_written_is_refused_before_any_work(tmp_path, monkeypatch):
    run = RunDir(tmp_path / "run").create()
    run.check_writable()  # writable: nothing happens, nothing is left
    assert os.listdir(run.path) == []
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(NotWritableError, match=r"read-only file system: cannot write in the run"):
        run.check_writable()

    def denied(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(type(run.path), "mkdir", denied)
    with pytest.raises(NotWritableError, match="permission denied: cannot create the run folder"):
        RunDir(tmp_path / "other").create()
