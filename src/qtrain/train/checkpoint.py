"""Atomic checkpoints: everything a run needs to continue bit for bit, as JSON.

A checkpoint is written after every step to a temporary file in the same folder, flushed and
``fsync``-ed, then renamed over the old one (``os.replace`` is atomic on POSIX and Windows)
and the folder is ``fsync``-ed, so a crash at any instant leaves either the previous or the
new checkpoint, never a torn one. It holds θ, the optimizer state, the loop's random
generator state, the shot ledger, the step, the history (without gradient vectors) and the
hash of the configuration that produced it. No pickle: loading never executes code, and
floats round-trip exactly through JSON's shortest-repr encoding.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import CheckpointError, CheckpointMismatchError, ConfigError
from qtrain.train.records import StepRecord

__all__ = ["FORMAT", "Checkpoint", "load_checkpoint", "save_checkpoint", "write_json_atomic"]

FORMAT = "qtrain.checkpoint/1"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically and durably (temp, fsync, rename)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself must survive a power cut
    finally:
        os.close(directory)


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
        history: one record per completed step (gradient vectors dropped).
        stopped_by: why the run ended, ``None`` while it can continue.
        monitor_state: the gradient monitor's JSON state (``None`` without a monitor; a
            checkpoint written before monitors existed reads as ``None``).
    """

    config_hash: str
    seed: int
    step: int
    theta: NDArray[np.float64]
    optimizer_state: dict[str, Any]
    rng_state: dict[str, Any]
    shots_total: int
    elapsed: float
    history: tuple[StepRecord, ...]
    stopped_by: str | None = None
    monitor_state: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
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
            "history": [r.to_dict(with_gradient=False) for r in self.history],
            "stopped_by": self.stopped_by,
            "monitor_state": self.monitor_state,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Checkpoint:
        """Inverse of :meth:`to_dict`.

        Raises:
            CheckpointError: another format, or missing fields.
        """
        if data.get("format") != FORMAT:
            raise CheckpointError(f"not a {FORMAT} checkpoint (format {data.get('format')!r})")
        try:
            return Checkpoint(
                config_hash=str(data["config_hash"]),
                seed=int(data["seed"]),
                step=int(data["step"]),
                theta=np.array(data["theta"], dtype=np.float64),
                optimizer_state=dict(data["optimizer_state"]),
                rng_state=dict(data["rng_state"]),
                shots_total=int(data["shots_total"]),
                elapsed=float(data["elapsed"]),
                history=tuple(StepRecord.from_dict(r) for r in data["history"]),
                stopped_by=data.get("stopped_by"),
                monitor_state=data.get("monitor_state"),
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
    """Write ``checkpoint`` to ``path`` atomically."""
    write_json_atomic(path, checkpoint.to_dict())


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint.

    Raises:
        CheckpointError: the file is missing, not JSON, or not a checkpoint.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {error.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CheckpointError(f"checkpoint {path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"checkpoint {path} does not hold a JSON object")
    return Checkpoint.from_dict(data)
