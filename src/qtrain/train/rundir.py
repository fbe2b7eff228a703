"""The run directory: everything about one run in one folder.

``runs/<run-id>/`` holds ``config.yaml`` (the resolved configuration, when the run came from a
config), ``run.json`` (what ``fit`` was asked to do, with its hash), ``checkpoint.json``,
``metrics.jsonl`` (one step record per line), ``results.sqlite`` (the durable result store),
``summary.json`` and ``reproduce.json`` (seed, versions, platform, git commit).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtrain.errors import StorageError

__all__ = ["RunDir", "new_run_id", "reproduction_info"]


@dataclass(frozen=True)
class RunDir:
    """Paths of one run directory."""

    path: Path

    def create(self) -> RunDir:
        """Make the folder (and its parents).

        Raises:
            StorageError: it cannot be made (``NotWritableError``, ``DiskFullError``).
        """
        try:
            Path(self.path).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError.from_os(error, self.path, "create the run folder") from None
        return self

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
