"""Trackers receive the run's start, every step record and the summary.

:class:`JsonlTracker` is always on for runs with a run directory: ``metrics.jsonl`` gets one
:class:`~qtrain.train.records.StepRecord` per line, flushed and ``fsync``-ed before the step's
checkpoint is written, so after a crash the file holds at least every checkpointed step (a
resumed run first cuts it back to the checkpoint). MLflow and Prometheus trackers plug into
the same protocol.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, TextIO, runtime_checkable

from qtrain.train.records import StepRecord

__all__ = ["JsonlTracker", "Tracker", "read_metrics", "truncate_metrics"]


@runtime_checkable
class Tracker(Protocol):
    """Anything that follows a run."""

    def start(self, info: Mapping[str, Any]) -> None:
        """The run begins (or resumes): its configuration and where it stands."""
        ...

    def log(self, record: StepRecord) -> None:
        """One finished step."""
        ...

    def finish(self, summary: Mapping[str, Any]) -> None:
        """The run ended (``summary`` as in ``summary.json``)."""
        ...


class JsonlTracker:
    """Appends step records to a JSON-lines file, durably."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._handle: TextIO | None = None

    def start(self, info: Mapping[str, Any]) -> None:  # noqa: D102 - see Tracker
        self._handle = open(self.path, "a", encoding="utf-8")

    def log(self, record: StepRecord) -> None:  # noqa: D102 - see Tracker
        if self._handle is None:
            self.start({})
        assert self._handle is not None
        self._handle.write(json.dumps(record.to_dict(), sort_keys=True) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def finish(self, summary: Mapping[str, Any]) -> None:  # noqa: D102 - see Tracker
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def read_metrics(path: Path) -> list[StepRecord]:
    """Every complete record in a ``metrics.jsonl`` (a torn last line is ignored)."""
    records: list[StepRecord] = []
    if not Path(path).exists():
        return records
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(StepRecord.from_dict(json.loads(line)))
        except json.JSONDecodeError:
            break  # a line torn by a crash is the last one
    return records


def truncate_metrics(path: Path, steps: int) -> None:
    """Keep the first ``steps`` complete lines (those the checkpoint vouches for)."""
    if not Path(path).exists():
        return
    lines = Path(path).read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines[:steps] if line.endswith("\n")]
    Path(path).write_text("".join(kept), encoding="utf-8")
