"""A plateau scan's finished points, saved as each one finishes: ``points.jsonl``.

The first line names the scan — ``{"format": "qtrain.plateau-points/1", "key": ..., "seed":
...}``, where ``key`` is a digest of the config without its ``output`` — and each further line
is one point with its bootstrap replicates (what the decay fits need). Every line is written,
flushed and ``fsync``-ed when its point finishes, so Ctrl-C or a crash loses only the point in
flight, and running the same config again reads the saved points back instead of measuring
them (the draws are seeded per point: the result is the unbroken scan's). The file is created
with the first finished point: a scan refused before any work leaves no folder behind.

>>> log = PointLog(Path("/nonexistent"), key="k", seed=7)
>>> log.saved, log.path.name
(0, 'points.jsonl')
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from qtrain.diagnostics.result import ScanPoint
from qtrain.errors import ConfigError, StorageError

__all__ = [
    "FORMAT",
    "NAME",
    "PointLog",
    "Saved",
    "find_unfinished",
    "read_points",
    "resume_from",
    "scan_key",
]

FORMAT = "qtrain.plateau-points/1"
NAME = "points.jsonl"

Saved = list[tuple[ScanPoint, NDArray[np.float64]]]
"""Points read back, each with its ``(B,)`` bootstrap replicates."""


def scan_key(config: BaseModel) -> str:
    """A digest of what the scan measures: the config without ``output`` (where files go)."""
    data = config.model_dump(mode="json", exclude={"output"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _point(data: dict[str, Any]) -> ScanPoint:
    values = {f.name: data[f.name] for f in fields(ScanPoint)}
    for name, value in values.items():
        if isinstance(value, list):
            values[name] = tuple(value)
    return ScanPoint(**values)


def read_points(directory: Path) -> tuple[dict[str, Any], Saved] | None:
    """The header and the points saved in ``directory``; ``None`` without a readable file.

    A torn last line (the process died writing it) is left out.
    """
    try:
        lines = (Path(directory) / NAME).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    try:
        header = json.loads(lines[0])
    except (IndexError, json.JSONDecodeError):
        return None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        return None
    points: Saved = []
    for line in lines[1:]:
        try:
            item = json.loads(line)
            points.append((_point(item["point"]), np.asarray(item["replicates"], dtype=float)))
        except (json.JSONDecodeError, KeyError, TypeError):
            break  # a torn last line: the point in flight when the process died
    return header, points


def find_unfinished(parent: Path, name: str, key: str) -> Path | None:
    """The newest ``<parent>/<name>-*`` folder holding an unfinished scan of ``key``."""
    candidates = sorted(
        Path(parent).glob(f"{name}-*/{NAME}"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for path in candidates:
        found = read_points(path.parent)
        if found is not None and found[0].get("key") == key:
            if not (path.parent / "scan.json").exists():
                return path.parent
    return None


class PointLog:
    """Appends finished points to ``<directory>/points.jsonl`` (created with the first).

    Args:
        directory: the scan's output folder.
        key: :func:`scan_key` of the config.
        seed: the scan's seed (drawn when the config has none: a rerun must reuse it).
        points: points already in the file (a resumed scan), or ``()``.
    """

    def __init__(
        self, directory: Path, *, key: str, seed: int, points: Sequence[object] = ()
    ) -> None:
        self.directory, self.key, self.seed = Path(directory), key, seed
        self.path = self.directory / NAME
        self.saved = len(points)

    def _write(self, line: str) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                os.write(fd, (line + "\n").encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as error:
            raise StorageError.from_os(error, self.path, "append a scan point to") from None

    def append(self, point: ScanPoint, replicates: NDArray[np.float64]) -> None:
        """Save one finished point (the header first, for the first point of a new file)."""
        if not self.path.exists():
            header = {"format": FORMAT, "key": self.key, "seed": self.seed}
            self._write(json.dumps(header))
        self._write(json.dumps({"point": asdict(point), "replicates": replicates.tolist()}))
        self.saved += 1


def resume_from(directory: Path, key: str) -> tuple[int | None, Saved]:
    """The seed and the points an earlier run of the same scan left in ``directory``.

    Raises:
        ConfigError: ``directory`` holds the saved points of another scan.
    """
    found = read_points(directory)
    if found is None:
        return None, []
    header, points = found
    if header.get("key") != key:
        raise ConfigError(
            f"{directory / NAME} holds the points of another scan (a different config); "
            "choose another output folder, or delete the file to start over"
        )
    with contextlib.suppress(TypeError, ValueError):
        return int(header["seed"]), points
    return None, points
