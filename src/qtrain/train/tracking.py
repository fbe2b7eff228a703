"""Trackers receive the run's start, every step record and the summary.

:class:`JsonlTracker` is always on for runs with a run directory: ``metrics.jsonl`` gets one
:class:`~qtrain.train.records.StepRecord` per line, flushed and ``fsync``-ed before the step's
checkpoint is written, so after a crash the file holds at least every checkpointed step (a
resumed run first cuts it back to the checkpoint). MLflow and Prometheus trackers plug into
the same protocol (``observe/mlflow_tracker.py``, ``observe/metrics.py``).

A tracker that wants more than the records — the executor's counters, the run id, the budget
— may also have ``bind(context)``: the runner calls it with a :class:`RunContext` before the
run starts, and ``abort(error)`` if the run dies with an exception instead of finishing.
:class:`LogTracker` turns the run into structured log events (``qtrain.logs``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO, runtime_checkable

from qtrain.exec.executor import Executor
from qtrain.logs import clear_context, emit, set_context
from qtrain.train.records import StepRecord
from qtrain.train.stopping import Budget

__all__ = [
    "MONITOR_DECISIONS",
    "JsonlTracker",
    "LogTracker",
    "RunContext",
    "Tracker",
    "bound",
    "monitor_decision",
    "read_metrics",
    "truncate_metrics",
]

_LOG = logging.getLogger("qtrain.train")

MONITOR_DECISIONS = ("ok", "warn", "stop", "raise_shots", "layerwise")


def monitor_decision(monitor: Mapping[str, Any] | None) -> str:
    """The plateau monitor's decision in ``StepRecord.monitor``, from a bounded set.

    ``none`` without a monitor; the ``decision`` (or ``action``, as ``GradientMonitor``
    writes it) entry when it is one of :data:`MONITOR_DECISIONS`; ``ok`` for a monitor entry
    without a decision or whose action is ``None`` (a quiet step); ``other`` for any other
    value (metrics labels stay bounded whatever a monitor writes).

    >>> monitor_decision(None), monitor_decision({"decision": "warn", "snr": 0.7})
    ('none', 'warn')
    >>> monitor_decision({"snr": 4.0}), monitor_decision({"action": None, "snr": 4.0})
    ('ok', 'ok')
    >>> monitor_decision({"action": "panic"})
    'other'
    """
    if not monitor:
        return "none"
    value = monitor.get("decision", monitor.get("action"))
    if value is None:
        return "ok"
    return str(value) if str(value) in MONITOR_DECISIONS else "other"


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


@dataclass(frozen=True, eq=False)
class RunContext:
    """What the runner knows about a run before it starts (handed to ``bind``).

    Attributes:
        run_id: the run folder's name.
        run_dir: the run folder.
        executor: the run's executor (its ``counters`` are live).
        budget: the run's hard limits.
        exact_value: the problem's known minimum, if any.
        config: the resolved run config (JSON-ready), if the run came from one.
    """

    run_id: str
    run_dir: Path | None = None
    executor: Executor | None = None
    budget: Budget | None = None
    exact_value: float | None = None
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def backend(self) -> str:
        """The backend's name (``unknown`` without an executor)."""
        return "unknown" if self.executor is None else self.executor.name


@contextlib.contextmanager
def bound(trackers: Sequence[object], context: RunContext) -> Iterator[None]:
    """Hand ``context`` to the trackers that ``bind``; ``abort`` them if the run raises."""
    for tracker in trackers:
        bind = getattr(tracker, "bind", None)
        if callable(bind):
            bind(context)
    try:
        yield
    except BaseException as error:
        for tracker in trackers:
            abort = getattr(tracker, "abort", None)
            if callable(abort):
                abort(error)
        raise


class LogTracker:
    """Structured log events of a run; sets the run id and step every other event carries.

    Events: ``run.start``, ``step`` (info), ``calibration.change`` (info), ``monitor.decision``
    (warning, for decisions other than ``ok``), ``run.finish`` (info), ``run.error`` (error).

    Args:
        run_id: the run's name in the logs (default: the run's config hash prefix, or the id
            a runner binds).
    """

    def __init__(self, run_id: str | None = None) -> None:
        self.run_id = run_id
        self._calibrations: set[str] | None = None

    def bind(self, context: RunContext) -> None:  # noqa: D102 - see RunContext
        self.run_id = self.run_id or context.run_id

    def start(self, info: Mapping[str, Any]) -> None:  # noqa: D102 - see Tracker
        self.run_id = self.run_id or str(info.get("config_hash", "run"))[:12]
        set_context(run_id=self.run_id, step=int(info.get("step", 0)))
        emit(_LOG, logging.INFO, "run.start", config_hash=info.get("config_hash"))

    def log(self, record: StepRecord) -> None:  # noqa: D102 - see Tracker
        emit(
            _LOG,
            logging.INFO,
            "step",
            step=record.step,
            loss=record.loss,
            loss_stderr=record.loss_stderr,
            grad_norm=record.grad_norm,
            grad_snr=record.grad_snr,
            shots=record.shots,
            shots_total=record.shots_total,
            retries=record.retries,
            failures=record.failures,
            seconds=record.seconds,
        )
        ids = set(record.calibration_ids)
        if self._calibrations is not None and ids - self._calibrations:
            emit(
                _LOG,
                logging.INFO,
                "calibration.change",
                step=record.step,
                calibration_ids=sorted(ids),
                new=sorted(ids - self._calibrations),
            )
        self._calibrations = ids
        decision = monitor_decision(record.monitor)
        if decision not in ("none", "ok"):
            emit(
                _LOG,
                logging.WARNING,
                "monitor.decision",
                decision,
                step=record.step,
                decision=decision,
                monitor=record.monitor,
            )
        set_context(step=record.step + 1)  # what the executor does next belongs to that step

    def finish(self, summary: Mapping[str, Any]) -> None:  # noqa: D102 - see Tracker
        emit(
            _LOG,
            logging.INFO,
            "run.finish",
            stopped_by=summary.get("stopped_by"),
            steps=summary.get("steps"),
            shots=summary.get("shots"),
            final_loss_exact=summary.get("final_loss_exact"),
        )
        clear_context()

    def abort(self, error: BaseException) -> None:
        """The run died with ``error``."""
        emit(_LOG, logging.ERROR, "run.error", str(error), error=type(error).__name__)
        clear_context()
