"""``train_from_config`` and ``resume_from_dir`` refuse before work and leave no debris."""

import os

import pytest
import yaml

import qtrain as qt
from qtrain.app import runner
from qtrain.app.config import load_config, parse_config
from qtrain.app.runner import resume_from_dir, train_from_config
from qtrain.errors import CheckpointMismatchError, ConfigError

CUSTOM = {
    "name": "checks",
    "seed": 4,
    "circuit": {"ansatz": "hardware_efficient", "n_qubits": 2, "layers": 1},
    "observable": "Z0 Z1",
    "optimizer": {"name": "adam", "learning_rate": 0.05},
    "gradient": {"method": "param-shift"},
    "budget": {"max_steps": 2},
}


class Recorder:
    """A tracker that records whether the run ever started (the progress bar's cue)."""

    def __init__(self):
        self.started = False

    def start(self, info):
        self.started = True

    def log(self, record):
        pass

    def finish(self, summary):
        pass


def snapshot(folder):
    """Every file's bytes and modification time, and the folder's own."""
    files = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}
    return files, folder.stat().st_mtime_ns


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"circuit": {"ansatz": "hardware_efficient", "n_qubits": 40}}, "a 40-qubit state"),
        (
            {
                "circuit": {"ansatz": "hardware_efficient", "n_qubits": 9},
                "gradient": {"method": "adjoint"},
                "backend": {"memory_budget": 40_000},  # one state fits, the adjoint's 3 do not
            },
            "the adjoint method keeps 3 9-qubit states",
        ),
        (
            {"optimizer": {"name": "rosalin", "min_shots": 2}, "gradient": {"method": "adjoint"}},
            "gradient.method: method='adjoint' is exact by construction",
        ),
    ],
    ids=["state-too-large", "adjoint-memory", "adjoint-with-adaptive-shots"],
)
def test_a_run_that_cannot_start_is_refused_before_its_folder_and_its_trackers(
    tmp_path, overrides, expected
):
    config = parse_config({**CUSTOM, **overrides, "run": {"dir": str(tmp_path / "runs")}})
    recorder = Recorder()
    with pytest.raises(qt.QtrainError, match=expected):
        train_from_config(config, trackers=[recorder])
    assert not recorder.started  # no progress bar, no run.start log line
    assert not (tmp_path / "runs").exists()


def test_a_run_that_fails_before_its_first_step_leaves_no_folder(tmp_path, monkeypatch):
    def broken(config, store_path):
        raise ConfigError("executor.dask: the scheduler cannot be reached")

    monkeypatch.setattr(runner, "make_executor", broken)
    made = tmp_path / "runs" / "deep" / "run"
    with pytest.raises(ConfigError, match="scheduler"):
        train_from_config(parse_config(CUSTOM), run_dir=made)
    assert not (tmp_path / "runs").exists()  # the run folder and the parents it made
    kept = tmp_path / "mine"
    kept.mkdir()
    with pytest.raises(ConfigError):
        train_from_config(parse_config(CUSTOM), run_dir=kept)
    assert kept.is_dir()  # a folder the user made stays


def test_resume_with_an_edited_config_names_the_change_and_touches_nothing(tmp_path):
    _, directory = train_from_config(parse_config(CUSTOM), run_dir=tmp_path / "run")
    saved = yaml.safe_load(directory.config.read_text())
    saved["optimizer"]["learning_rate"] = 0.07
    directory.config.write_text(yaml.safe_dump(saved, sort_keys=False))
    before = snapshot(directory.path)
    with pytest.raises(CheckpointMismatchError) as caught:
        resume_from_dir(directory.path, budget={"max_steps": 4})
    message = str(caught.value)
    assert "optimizer.learning_rate 0.05 → 0.07" in message
    assert "seed" not in message and "gradient" not in message  # only what changed
    assert snapshot(directory.path) == before


def test_resume_names_config_keys_for_gradient_changes(tmp_path):
    _, directory = train_from_config(parse_config(CUSTOM), run_dir=tmp_path / "run")
    saved = yaml.safe_load(directory.config.read_text())
    saved["gradient"] = {"method": "finite-diff", "shots": 100}
    directory.config.write_text(yaml.safe_dump(saved, sort_keys=False))
    with pytest.raises(CheckpointMismatchError) as caught:
        resume_from_dir(directory.path)
    assert "gradient.method param-shift → finite-diff" in str(caught.value)
    assert "gradient.shots none → 100" in str(caught.value)


def test_resume_with_the_same_config_still_continues(tmp_path):
    _, directory = train_from_config(parse_config(CUSTOM), run_dir=tmp_path / "run")
    result = resume_from_dir(directory.path, budget={"max_steps": 3})
    assert result.steps == 3
    assert load_config(directory.config).source == str(directory.config)
    assert sorted(os.listdir(directory.path)) == sorted(
        [
            "checkpoint.json",
            "config.yaml",
            "lineage.jsonl",
            "metrics.jsonl",
            "reproduce.json",
            "results.sqlite",
            "run.json",
            "summary.json",
        ]
    )
