"""The run directory: everything about one run in one folder.

``runs/<run-id>/`` holds ``config.yaml`` (the resolved configuration, when the run came from a
config), ``run.json`` (what ``fit`` was asked to do, with its hash), ``checkpoint.json``,
``metrics.jsonl`` (one step record per line), ``results.sqlite`` (the durable result store),
``summary.json``, ``reproduce.json`` (seed, versions, platform, git commit; at the finish the
checksums of the outputs: :func:`output_checksums`) and ``lineage.jsonl`` (every step's
checkpoint, ``train/lineage.py``). A run branched from another's step records its parent in
``run.json`` (``{"parent": {"run": ..., "step": N}}``).
"""

from __future__ import annotations

import errno
import hashlib
import importlib.metadata
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import NotWritableError, StorageError
from qtrain.train.checkpoint import write_json_atomic
from qtrain.train.records import StepRecord

__all__ = [
    "RunDir",
    "new_run_id",
    "outermost_missing",
    "output_checksums",
    "record_outputs",
    "recorded_parent",
    "reproduction_info",
]

# mkdir failures that mean "no folder can be made there", not a failing disk: under /proc
# (ENOENT), through a file (ENOTDIR, EEXIST), an invalid or too long name.
_NO_FOLDER_THERE = frozenset(
    {errno.ENOENT, errno.ENOTDIR, errno.EEXIST, errno.EINVAL, errno.ENAMETOOLONG, errno.ELOOP}
)
_STARTING_FILES = frozenset(
    {
        "config.yaml",
        "run.json",
        "reproduce.json",
        "metrics.jsonl",
        "results.sqlite",
        "results.sqlite-wal",
        "results.sqlite-shm",
    }
)


@dataclass(frozen=True)
class RunDir:
    """Paths of one run directory."""

    path: Path

    def create(self) -> RunDir:
        """Make the folder (and its parents).

        Raises:
            StorageError: it cannot be made: ``DiskFullError``, or ``NotWritableError`` — no
                permission, a read-only file system, or a path where no folder can be (under
                ``/proc``, through a file, a name too long), naming the folder.
        """
        path = Path(self.path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            if error.errno not in _NO_FOLDER_THERE:
                raise StorageError.from_os(error, path, "create the run folder") from None
            reason = error.strerror or str(error)
            if path.exists() and not path.is_dir():
                reason = "a file of that name is in the way"
            raise NotWritableError(
                f"cannot create the run folder {path} ({reason}); choose a run folder that "
                "can be created (nothing was run)",
                path=path,
            ) from None
        return self

    def discard_if_unused(self, created: Path) -> bool:
        """Remove this folder if it holds no work, and the empty parents up to ``created``.

        For a run that failed before its first step: nothing but the files a run starts with
        (``config.yaml``, ``run.json``, ``reproduce.json``, an empty ``metrics.jsonl``, a store
        without rows). A checkpoint, a step record, a finished row or any other file keeps
        it. ``created``: the outermost folder the run made (its parents were there before).
        Best effort: returns whether the folder is gone.
        """
        folder, created = Path(self.path).absolute(), Path(created).absolute()
        chain = [folder, *(p for p in folder.parents if p == created or created in p.parents)]
        try:
            if self._holds_work():  # first: reading the store may leave its -wal and -shm
                return False
            entries = list(folder.iterdir())
            if any(e.name not in _STARTING_FILES for e in entries):
                return False
            for entry in entries:
                entry.unlink()
            for empty in chain:
                if empty != folder and any(empty.iterdir()):
                    break
                empty.rmdir()
        except OSError:
            pass
        return not folder.exists()

    def _holds_work(self) -> bool:
        """A step record, or a finished row in the store (unreadable: assume so)."""
        if self.metrics.exists() and self.metrics.stat().st_size > 0:
            return True
        if not self.store.exists():
            return False
        try:
            connection = sqlite3.connect(f"{self.store.resolve().as_uri()}?mode=ro", uri=True)
            query = "SELECT EXISTS (SELECT 1 FROM results)"
            try:
                return bool(connection.execute(query).fetchone()[0])
            finally:
                connection.close()
        except sqlite3.Error:
            return True

    def check_writable(self) -> None:
        """Refuse a folder whose files cannot be written, before any work is done.

        A trial file is created and removed (a read-only file system or a folder without
        write permission refuses it; a full disk usually still has room for an empty file).

        Raises:
            NotWritableError: naming the folder and what to do.
        """
        trial = Path(self.path) / f".write-test.{os.getpid()}"
        try:
            os.close(os.open(trial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            os.unlink(trial)
        except OSError as error:
            raise StorageError.from_os(
                error,
                self.path,
                "write in the run folder",
                remedy="make it writable, or choose another run folder (nothing was run)",
            ) from None

    @property
    def config(self) -> Path:  # noqa: D102 - see the module docstring
        return Path(self.path) / "config.yaml"

    @property
    def run_info(self) -> Path:  # noqa: D102 - see the module docstring
        return Path(self.path) / "run.json"

    @property
    def checkpoint(self) -> Path:  # noqa: D102 - see the module docstring
        return Path(self.path) / "checkpoint.json"

    @property
    def metrics(self) -> Path:  # noqa: D102 - see the module docstring
        return Path(self.path) / "metrics.jsonl"

    @property
    def store(self) -> Path:  # noqa: D102 - see the module docstring
        return Path(self.path) / "results.sqlite"

    @property
    def summary(self) -> Path:  # noqa: D102 - see the module docstring
        return Path(self.path) / "summary.json"

    @property
    def reproduce(self) -> Path:  # noqa: D102 - see the module docstring
        return Path(self.path) / "reproduce.json"

    @property
    def lineage(self) -> Path:  # noqa: D102 - see the module docstring
        return Path(self.path) / "lineage.jsonl"


def outermost_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` that does not exist yet (``None``: it exists)."""
    path, missing = Path(path).absolute(), None
    while not path.exists() and path.parent != path:
        path, missing = path.parent, path
    return missing


def new_run_id(name: str, config_hash: str) -> str:
    """``<name>-<UTC time>-<hash prefix>``: sortable, unique per config and second."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{name}-{stamp}-{config_hash[:6]}"


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    """The commit of the qtrain checkout, when it is one (editable installs)."""
    source = Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def reproduction_info(seed: int) -> dict[str, Any]:
    """What is needed to reproduce a run: seed, versions, platform, commit, command line."""
    packages = ("qtrain", "numpy", "scipy", "numba", "dask", "pydantic", "tenacity")
    return {
        "seed": seed,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "versions": {name: _version(name) for name in packages},
        "git_commit": _git_commit(),
        "argv": list(sys.argv),
    }


def recorded_parent(directory: RunDir) -> dict[str, Any]:
    """``{"parent": ...}`` from ``run.json`` when the run was branched, else ``{}``.

    ``fit`` rewrites ``run.json`` at every start and keeps this entry.
    """
    try:
        recorded = json.loads(directory.run_info.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    parent = recorded.get("parent") if isinstance(recorded, dict) else None
    return {"parent": parent} if isinstance(parent, dict) else {}


def _file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


_TRAJECTORY = ("step", "loss", "loss_stderr", "theta", "gradient", "shots_total", "validation")
"""The fields of each step record the ``trajectory`` checksum covers: numbers a seeded run
reproduces bit for bit (wall times, retries and rows read from the store are left out)."""


def output_checksums(
    directory: RunDir, theta: NDArray[np.float64], history: list[StepRecord]
) -> dict[str, Any]:
    """SHA-256 checksums of a finished run's outputs, for ``reproduce.json``.

    ``deterministic``: equal for two runs of the same seeded config, on the same versions
    and machine — ``theta`` (the final θ as little-endian float64 bytes), ``trajectory``
    (each step's :data:`_TRAJECTORY` fields as sorted JSON lines) and ``config.yaml``.
    ``files``: the run's files as written (``checkpoint.json``, ``metrics.jsonl``,
    ``summary.json``), which also hold wall times, so they differ from run to run.
    """
    final = np.ascontiguousarray(theta, dtype="<f8").tobytes()
    lines = []
    for record in history:
        data = record.to_dict()
        lines.append(json.dumps({k: data[k] for k in _TRAJECTORY}, sort_keys=True))
    trajectory = "".join(line + "\n" for line in lines).encode("utf-8")
    deterministic = {
        "theta": hashlib.sha256(final).hexdigest(),
        "trajectory": hashlib.sha256(trajectory).hexdigest(),
        "config.yaml": _file_digest(directory.config),
    }
    files = {
        path.name: _file_digest(path)
        for path in (directory.checkpoint, directory.metrics, directory.summary)
    }
    return {"algorithm": "sha256", "deterministic": deterministic, "files": files}


def record_outputs(
    directory: RunDir | None, theta: NDArray[np.float64], history: list[StepRecord]
) -> None:
    """Add :func:`output_checksums` to the run's ``reproduce.json`` (written at its start)."""
    if directory is None:
        return
    try:
        info = json.loads(directory.reproduce.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict):
        info = {}
    info["outputs"] = output_checksums(directory, theta, history)
    write_json_atomic(directory.reproduce, info)
