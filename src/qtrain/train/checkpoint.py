"""Atomic checkpoints: everything a run needs to continue bit for bit, as JSON, in O(1) space.

A checkpoint is written after every step to a temporary file in the same folder, flushed and
``fsync``-ed, then renamed over the old one (``os.replace`` is atomic on POSIX and Windows)
and the folder is ``fsync``-ed, so a crash at any instant leaves either the previous or the
new checkpoint, never a torn one. When any of that fails (a full disk, a read-only folder)
the temporary file is removed before the error is raised: it must not hold the space the
next attempt needs.

It holds θ, the optimizer state, the loop's random generator state, the shot ledger, the
step, the hash of the configuration that produced it, the monitor's state and how many
records of ``metrics.jsonl`` it vouches for, with the last of them (without its gradient
vector). It does not hold the history: ``metrics.jsonl`` is the run's append-only history and
is read back on resume (``train/history.py``), so a checkpoint is the same size at step 10 as
at step 10 000 (format 1 held the whole history and grew ~510 B per step). Format 1 files
still load: their history's length and last record are what they vouch for.

No pickle: loading never executes code, and floats round-trip exactly through JSON's
shortest-repr encoding.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import (
    CheckpointError,
    CheckpointMismatchError,
    ConfigError,
    StorageError,
)
from qtrain.train.records import StepRecord

__all__ = [
    "FORMAT",
    "Checkpoint",
    "load_checkpoint",
    "save_checkpoint",
    "write_bytes_atomic",
    "write_json_atomic",
]

FORMAT = "qtrain.checkpoint/2"
_FORMAT_1 = "qtrain.checkpoint/1"  # the whole history inside; still read


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (temp, fsync, rename, folder fsync).

    Raises:
        StorageError: ``DiskFullError``, ``NotWritableError`` or another I/O failure, naming
            ``path``; the temporary file is gone by then (also after Ctrl-C).
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself must survive a power cut
        finally:
            os.close(folder)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)  # gone already after a successful rename
        if isinstance(error, OSError):
            raise StorageError.from_os(error, path, "write") from None
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path``, atomically and durably (:func:`write_bytes_atomic`)."""
    write_bytes_atomic(path, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"))


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """The state of a run after ``step`` completed steps.

    Attributes:
        config_hash: hash of the configuration that determines the numbers.
        seed: the run's resolved seed.
        step: completed steps.
        theta: ``(P,)`` parameters after them.
        optimizer_state: the optimizer's JSON-ready state.
        rng_state: the loop generator's ``bit_generator.state``.
        shots_total: the shot ledger.
        elapsed: wall seconds spent so far (over all sessions).
        records: how many records of ``metrics.jsonl`` this checkpoint vouches for (one per
            completed step).
        last_record: the last of them, without its gradient vector (``None`` before the first
            step); resume checks ``metrics.jsonl`` against it.
        stopped_by: why the run ended, ``None`` while it can continue.
        monitor_state: the gradient monitor's JSON state (``None`` without a monitor; a
            checkpoint written before monitors existed reads as ``None``).
        cost_total: money spent so far under the run's pricing table (0 without one).
        hook_states: the JSON states of the session's step hooks (drift detector, fallback,
            validation), by hook name (``train/step_hooks.py``).
    """

    config_hash: str
    seed: int
    step: int
    theta: NDArray[np.float64]
    optimizer_state: dict[str, Any]
    rng_state: dict[str, Any]
    shots_total: int
    elapsed: float
    records: int
    last_record: StepRecord | None = None
    stopped_by: str | None = None
    monitor_state: dict[str, Any] | None = None
    cost_total: float = 0.0
    hook_states: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        last = None if self.last_record is None else self.last_record.to_dict(with_gradient=False)
        return {
            "format": FORMAT,
            "config_hash": self.config_hash,
            "seed": self.seed,
            "step": self.step,
            "theta": [float(x) for x in self.theta],
            "optimizer_state": self.optimizer_state,
            "rng_state": self.rng_state,
            "shots_total": self.shots_total,
            "elapsed": self.elapsed,
            "records": self.records,
            "last_record": last,
            "stopped_by": self.stopped_by,
            "monitor_state": self.monitor_state,
            "cost_total": self.cost_total,
            "hook_states": self.hook_states,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Checkpoint:
        """Inverse of :meth:`to_dict`; also reads format 1 (the whole history inside).

        Raises:
            CheckpointError: another format, or missing fields.
        """
        if data.get("format") not in (FORMAT, _FORMAT_1):
            raise CheckpointError(f"not a {FORMAT} checkpoint (format {data.get('format')!r})")
        try:
            if data["format"] == _FORMAT_1:
                history = data["history"]
                records, last = len(history), history[-1] if history else None
            else:
                records, last = int(data["records"]), data["last_record"]
            if records < 0:
                raise ValueError(f"records must not be negative, got {records}")
            return Checkpoint(
                config_hash=str(data["config_hash"]),
                seed=int(data["seed"]),
                step=int(data["step"]),
                theta=np.array(data["theta"], dtype=np.float64),
                optimizer_state=dict(data["optimizer_state"]),
                rng_state=dict(data["rng_state"]),
                shots_total=int(data["shots_total"]),
                elapsed=float(data["elapsed"]),
                records=records,
                last_record=None if last is None else StepRecord.from_dict(last),
                stopped_by=data.get("stopped_by"),
                monitor_state=data.get("monitor_state"),
                cost_total=float(data.get("cost_total", 0.0)),
                hook_states=dict(data.get("hook_states") or {}),
            )
        except (KeyError, TypeError, ValueError, ConfigError) as error:
            raise CheckpointError(f"checkpoint is incomplete or damaged: {error}") from None

    def check_config(self, config_hash: str, path: Path) -> None:
        """Refuse to continue a run with a different configuration.

        Raises:
            CheckpointMismatchError: naming both hashes and the checkpoint.
        """
        if config_hash != self.config_hash:
            raise CheckpointMismatchError(
                f"{path} was written by a run with configuration {self.config_hash[:12]}, "
                f"but this run's configuration is {config_hash[:12]}: resuming would mix two "
                "different runs. Resume with the original configuration, or start a new run "
                "directory."
            )


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` to ``path`` atomically.

    Raises:
        StorageError: it could not be written; the previous checkpoint is untouched and no
            temporary file is left.
    """
    write_json_atomic(path, checkpoint.to_dict())


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint.

    Raises:
        CheckpointError: the file is missing, not JSON, or not a checkpoint.
        StorageError: it exists but cannot be read (``NotReadableError``: permission denied).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR):
            raise CheckpointError(f"cannot read checkpoint {path}: {error.strerror}") from None
        raise StorageError.from_os(error, path, "read the checkpoint") from None
    except UnicodeDecodeError as error:
        raise CheckpointError(f"checkpoint {path} is not text: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CheckpointError(f"checkpoint {path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"checkpoint {path} does not hold a JSON object")
    return Checkpoint.from_dict(data)
