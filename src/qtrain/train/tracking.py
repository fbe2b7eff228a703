"""Trackers receive the run's start, every step record and the summary.

:class:`JsonlTracker` is always on for runs with a run directory: ``metrics.jsonl`` gets one
:class:`~qtrain.train.records.StepRecord` per line, flushed and ``fsync``-ed before the step's
checkpoint is written, so after a crash the file holds at least every checkpointed step. It is
the run's history: a resumed run reads back the records its checkpoint vouches for and drops
the rest (``train/history.py``). MLflow and Prometheus trackers plug into
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
from typing import Any, Protocol, runtime_checkable

from qtrain.errors import StorageError
from qtrain.exec.executor import Executor
from qtrain.logs import clear_context, emit, set_context
from qtrain.train.history import read_metrics, truncate_metrics
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
    "monitor_sentence",
    "read_metrics",
    "run_id_of",
    "truncate_metrics",
]

_LOG = logging.getLogger("qtrain.train")

MONITOR_DECISIONS = ("ok", "warn", "stop", "raise_shots", "layerwise")
_DECISION_OF_ACTION = {"unfreeze": "layerwise"}  # the layerwise policy's action


def monitor_decision(monitor: Mapping[str, Any] | None) -> str:
    """The plateau monitor's decision in ``StepRecord.monitor``, from a bounded set.

    ``none`` without a monitor; the ``decision`` (or ``action``, as ``GradientMonitor``
    writes it) entry when it is one of :data:`MONITOR_DECISIONS` (the layerwise policy's
    ``unfreeze`` is ``layerwise``); ``ok`` for a monitor entry without a decision or whose
    action is ``None`` (a quiet step); ``other`` for any other value (metrics labels stay
    bounded whatever a monitor writes).

    >>> monitor_decision(None), monitor_decision({"decision": "warn", "snr": 0.7})
    ('none', 'warn')
    >>> monitor_decision({"policy": "layerwise", "action": "unfreeze"})
    'layerwise'
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
    label = _DECISION_OF_ACTION.get(str(value), str(value))
    return label if label in MONITOR_DECISIONS else "other"


def _sig(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, int | float) else "-"


def monitor_sentence(monitor: Mapping[str, Any], threshold: float | None = None) -> str:
    """A monitor's decision as a person reads it: one sentence, numbers to 3 digits.

    >>> monitor_sentence({"policy": "layerwise", "action": "unfreeze", "active_layers": 2,
    ...                   "snr": 0.9139057346829232, "snr_window": 1.47660647847868}, 1.5)
    'gradient SNR 1.48 (window mean) fell below 1.5: layer group 2 joins the training'
    >>> monitor_sentence({"action": "raise_shots", "shot_factor": 2.0, "snr_window": 0.42})
    'gradient SNR 0.42 (window mean) fell below the threshold: shots ×2 from the next step on'
    """
    snr = monitor.get("snr_window", monitor.get("snr"))
    limit = "the threshold" if threshold is None else f"{threshold:.3g}"
    text = f"gradient SNR {_sig(snr)} (window mean) fell below {limit}"
    action = monitor.get("action")
    if action == "unfreeze":
        return f"{text}: layer group {monitor.get('active_layers', '?')} joins the training"
    if action == "raise_shots":
        return f"{text}: shots ×{_sig(monitor.get('shot_factor'))} from the next step on"
    if action == "stop":
        return f"{text}: the run stops (stopped by plateau)"
    if action == "warn":
        return f"{text}: the gradient is mostly shot noise"
    return f"{text}: {action}"


def tracker_locations(trackers: Sequence[object]) -> dict[str, Any]:
    """``{"tracking": {kind: where}}``: where trackers with a ``location()`` logged the run.

    (``MlflowTracker``: tracking URI, experiment and run id.) Empty when none says.
    """
    found: dict[str, Any] = {}
    for tracker in trackers:
        location = getattr(tracker, "location", None)
        where = location() if callable(location) else None
        if where is not None:
            found[str(getattr(tracker, "kind", type(tracker).__name__))] = where
    return {"tracking": found} if found else {}


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
    """Appends step records to a JSON-lines file, durably.

    Each record is one ``write`` of one line, then ``fsync``. When the write fails (a full
    disk) the file is cut back to where it was, so no torn line is left behind, and a
    :class:`~qtrain.errors.StorageError` naming the file is raised.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def start(self, info: Mapping[str, Any]) -> None:  # noqa: D102 - see Tracker
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            except OSError as error:
                raise StorageError.from_os(error, self.path, "open for appending") from None

    def log(self, record: StepRecord) -> None:  # noqa: D102 - see Tracker
        if self._fd is None:
            self.start({})
        assert self._fd is not None
        line = (json.dumps(record.to_dict(), sort_keys=True) + "\n").encode("utf-8")
        end = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, end)  # no torn line: shrinking needs no space
            if isinstance(error, OSError):
                raise StorageError.from_os(error, self.path, "append a step record to") from None
            raise

    def finish(self, summary: Mapping[str, Any]) -> None:  # noqa: D102 - see Tracker
        self.close()

    def close(self) -> None:
        """Close the file (also when the run ends with an error)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


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
        run_id: the run's name in the logs (default: the id a runner binds, else the run
            folder's name ``qt.fit`` reports, else the config hash prefix).
    """

    def __init__(self, run_id: str | None = None) -> None:
        self.run_id = run_id
        self._calibrations: set[str] | None = None
        self._threshold: float | None = None

    def bind(self, context: RunContext) -> None:  # noqa: D102 - see RunContext
        self.run_id = self.run_id or context.run_id
        monitor = context.config.get("monitor") if context.config else None
        if isinstance(monitor, Mapping) and isinstance(monitor.get("threshold"), int | float):
            self._threshold = float(monitor["threshold"])

    def start(self, info: Mapping[str, Any]) -> None:  # noqa: D102 - see Tracker
        self.run_id = self.run_id or run_id_of(info)
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
                monitor_sentence(record.monitor or {}, self._threshold),
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


def run_id_of(info: Mapping[str, Any]) -> str:
    """The run folder's name ``fit`` reports, else the config hash's first 12 digits."""
    return str(info.get("run_id") or str(info.get("config_hash", "run"))[:12])
