import re

import numpy as np

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
