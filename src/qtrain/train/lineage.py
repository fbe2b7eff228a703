"""A run's lineage: the checkpoint of every step, so a run can be rolled back to any step.

``metrics.jsonl`` keeps θ_step of every step (``StepRecord.theta``), but continuing exactly
from step ``N`` also needs the optimizer's state and the loop generator's state after it.
So each step's checkpoint (``Checkpoint.to_dict()``, one compact JSON line) is appended to
the run's ``lineage.jsonl`` — O(1) per step, one ``write`` then ``fsync`` — just *before*
the checkpoint itself is replaced: every checkpoint ever on disk has its lineage entry. A
crash between the two leaves an entry for a step the checkpoint does not vouch for; that
step runs again on resume, bit for bit, and appends the same state again: the last entry of
a step is the one read. A line torn by a crash at the end is cut away (temporary file and
rename) before the next append.

:func:`branch` makes a new run folder from step ``N`` of another: its config is the
parent's, its checkpoint the parent's state after ``N`` steps, its ``metrics.jsonl`` the
parent's first ``N`` records (byte for byte) and its ``lineage.jsonl`` the parent's entries
up to ``N``; ``run.json`` names the parent (``{"parent": {"run", "step"}}``). ``fit(...,
resume=True)`` then continues it exactly as the parent continued from step ``N``.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from qtrain.errors import CheckpointError, ConfigError, StorageError
from qtrain.train.checkpoint import (
    Checkpoint,
    load_checkpoint,
    save_checkpoint,
    write_bytes_atomic,
    write_json_atomic,
)
from qtrain.train.history import file_lines
from qtrain.train.records import StepRecord
from qtrain.train.rundir import RunDir

__all__ = ["append_lineage", "branch", "lineage_checkpoint", "lineage_entries"]


def _ends_torn(path: Path) -> bool:
    """Whether ``path`` ends in a line without its newline (O(1): reads one byte)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() == 0:
                return False
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except FileNotFoundError:
        return False
    except OSError as error:
        raise StorageError.from_os(error, path, "read") from None


def append_lineage(path: Path, checkpoint: Checkpoint) -> None:
    """Append ``checkpoint`` as one JSON line to ``path``, durably.

    Raises:
        StorageError: it could not be written (the file is cut back: no torn line is left).
    """
    path = Path(path)
    if _ends_torn(path):  # a crash tore the last line: keep the complete ones
        lines = file_lines(path)
        assert lines is not None
        write_bytes_atomic(path, b"".join(line + b"\n" for line in lines[0]))
    line = (json.dumps(checkpoint.to_dict(), sort_keys=True) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as error:
        raise StorageError.from_os(error, path, "open for appending") from None
    try:
        end = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, end)
            if isinstance(error, OSError):
                raise StorageError.from_os(error, path, "append a lineage entry to") from None
            raise
    finally:
        os.close(fd)


def lineage_entries(path: Path) -> dict[int, tuple[bytes, dict[str, Any]]]:
    """The last complete entry of each step in ``path``: ``{step: (line, JSON)}``.

    Raises:
        CheckpointError: a complete line that is not a JSON object with a ``step``.
    """
    lines = file_lines(Path(path))
    entries: dict[int, tuple[bytes, dict[str, Any]]] = {}
    for number, line in enumerate([] if lines is None else lines[0], start=1):
        try:
            data = json.loads(line.decode("utf-8"))
            step = int(data["step"])
        except (ValueError, TypeError, KeyError):
            raise CheckpointError(
                f"{path} line {number} is not a lineage entry: the file is damaged"
            ) from None
        entries[step] = (line, data)
    return entries


def _last_step(parent: RunDir) -> int:
    """The step of the parent's checkpoint (refused when it has none)."""
    if not parent.checkpoint.exists():
        if parent.run_info.exists():
            return 0  # killed before its first step: only step 0 exists
        raise CheckpointError(f"{parent.path} holds no run (no checkpoint.json or run.json)")
    return load_checkpoint(parent.checkpoint).step


def lineage_checkpoint(parent: RunDir, step: int) -> Checkpoint | None:
    """The parent's state after ``step`` steps (``None`` for step 0: a fresh start).

    Raises:
        CheckpointError: ``step`` is not between 0 and the parent's last checkpointed step,
            or the parent kept no lineage for it (a run from before lineage was kept).
    """
    last = _last_step(parent)
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= last:
        raise CheckpointError(
            f"--from-step {step!r} is out of range: {parent.path} has steps 0 to {last} "
            "(0 is the start; N is the state after N steps)"
        )
    if step == 0:
        return None
    entry = lineage_entries(parent.lineage).get(step)
    if entry is not None:
        return replace(Checkpoint.from_dict(entry[1]), stopped_by=None)
    if step == last:
        return replace(load_checkpoint(parent.checkpoint), stopped_by=None)
    raise CheckpointError(
        f"{parent.path} keeps no lineage for step {step} (no entry in {parent.lineage.name}: "
        f"a run from before lineage was kept); only its last step, {last}, can be branched"
    )


def _canonical(record: StepRecord) -> str:
    return json.dumps(record.to_dict(with_gradient=False), sort_keys=True)


def _check_last(parent: RunDir, line: bytes, checkpoint: Checkpoint) -> None:
    """Record ``checkpoint.step`` of the parent's metrics must be the one its state vouches for."""
    try:
        record = StepRecord.from_dict(json.loads(line.decode("utf-8")))
    except (ValueError, TypeError, ConfigError):
        record = None
    last = checkpoint.last_record
    if record is None or last is None or _canonical(record) != _canonical(last):
        raise CheckpointError(
            f"{parent.metrics} line {checkpoint.step} is not the record the lineage entry of "
            f"step {checkpoint.step} vouches for: the run's files are damaged or edited"
        )


def branch(parent: RunDir, step: int, child: RunDir) -> Checkpoint | None:
    """Write ``child`` as ``parent`` rolled back to ``step`` (module docstring).

    ``child`` must not hold a run. Nothing is written before every check has passed.

    Returns:
        The child's checkpoint (``None`` for step 0: the child starts fresh).

    Raises:
        CheckpointError: ``step`` out of range, no lineage for it, ``child`` holds a run,
            or the parent's files are missing or damaged.
        StorageError: a file could not be read or written.
    """
    checkpoint = lineage_checkpoint(parent, step)
    if child.checkpoint.exists() or child.run_info.exists():
        raise CheckpointError(f"{child.path} already holds a run; choose a new run folder")
    metrics = file_lines(parent.metrics)
    records = [] if metrics is None else metrics[0][:step]
    if len(records) < step:
        raise CheckpointError(
            f"{parent.metrics} holds {len(records)} records, fewer than step {step} needs"
        )
    if checkpoint is not None and records:
        _check_last(parent, records[-1], checkpoint)
    entries = lineage_entries(parent.lineage)
    config = parent.config.read_bytes() if parent.config.exists() else None
    child.create().check_writable()
    if config is not None:
        write_bytes_atomic(child.config, config)
    write_bytes_atomic(child.metrics, b"".join(line + b"\n" for line in records))
    kept = [line for number, (line, _) in sorted(entries.items()) if number <= step]
    if kept:
        write_bytes_atomic(child.lineage, b"".join(line + b"\n" for line in kept))
    if checkpoint is not None:
        save_checkpoint(child.checkpoint, checkpoint)
    parent_info = {"run": str(Path(parent.path).resolve()), "step": step}
    write_json_atomic(child.run_info, {"parent": parent_info})
    return checkpoint
