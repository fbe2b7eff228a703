"""What can go wrong with a result store's file, said plainly.

SQLite reports a damaged file, a full disk, a read-only file and a folder it may not write in
as ``sqlite3.DatabaseError`` s with an error code; :func:`storage_error` turns each into the
:class:`~qtrain.errors.StorageError` that names the file and what to do, and :func:`probe`
asks the operating system first, so a file this user may not read or write is reported with
its real reason before SQLite gets a word in. :func:`aside` names where a damaged store is
moved (``results.sqlite.corrupt-<UTC time>``, its ``-wal`` and ``-shm`` beside it).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from qtrain.errors import (
    CorruptFileError,
    DiskFullError,
    NotWritableError,
    StorageError,
)

__all__ = [
    "COMPANIONS",
    "aside",
    "kind_of",
    "make_folder",
    "move_aside",
    "probe",
    "storage_error",
]

COMPANIONS = ("", "-wal", "-shm")
"""The suffixes of a store's files: the database, its write-ahead log, its shared memory."""

# SQLite's primary result codes (https://sqlite.org/rescode.html) and what they mean here.
_KINDS = {11: "corrupt", 26: "corrupt", 13: "full", 8: "readonly", 3: "readonly", 14: "cantopen"}
_KINDS |= {10: "io"}
# An error made in Python (or by an older sqlite3 module) has no code: its text says the same.
_TEXTS = (
    ("malformed", "corrupt"),
    ("not a database", "corrupt"),
    ("disk is full", "full"),
    ("readonly database", "readonly"),
    ("unable to open", "cantopen"),
    ("disk i/o error", "io"),
)


def kind_of(error: sqlite3.Error) -> str | None:
    """``corrupt``, ``full``, ``readonly``, ``cantopen``, ``io``; ``None``: not the file's fault.

    >>> kind_of(sqlite3.OperationalError("database or disk is full"))
    'full'
    >>> kind_of(sqlite3.OperationalError("database is locked")) is None
    True
    """
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _KINDS:
        return _KINDS[code & 0xFF]
    text = str(error).lower()
    return next((kind for marker, kind in _TEXTS if marker in text), None)


def probe(path: Path, *, folder: bool = False) -> None:
    """Raise the storage error that keeps this process from reading and writing ``path``.

    With ``folder``, also check that files can be created beside it (SQLite creates the
    ``-wal`` and ``-shm`` files there). Nothing is raised when everything is allowed.
    """
    if path.exists():
        for flags, action in ((os.O_RDONLY, "read"), (os.O_RDWR, "write")):
            try:
                os.close(os.open(path, flags))
            except OSError as error:
                raise StorageError.from_os(error, path, action) from None
    if folder:
        trial = path.with_name(f".{path.name}.{os.getpid()}.probe")
        try:
            os.close(os.open(trial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))
            os.unlink(trial)
        except OSError as error:
            raise StorageError.from_os(error, path.parent, "create files in") from None


def make_folder(folder: Path) -> None:
    """``mkdir -p folder``, or the storage error that prevents it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError.from_os(error, folder, "create the folder") from None


def storage_error(error: sqlite3.Error, kind: str, path: Path, action: str) -> StorageError:
    """The storage error for SQLite's ``error`` of ``kind`` while trying to ``action`` ``path``."""
    if kind == "corrupt":
        return CorruptFileError(
            f"{path} is damaged ({error}); move it aside or delete it (with its -wal and -shm "
            "files): a run rebuilds an empty store, whose finished rows are only a cache",
            path=path,
        )
    if kind == "full":
        return DiskFullError(
            f"disk full: cannot {action} {path} ({error}); free space on that file system, "
            "then try again",
            path=path,
        )
    if kind in ("readonly", "cantopen"):
        probe(path, folder=True)  # the operating system's own reason, when it has one
        return NotWritableError(
            f"cannot {action} {path} ({error}): the file or its folder is not writable "
            "(SQLite also creates -wal and -shm files beside it); give the user running "
            "qtrain write access, or put the store elsewhere",
            path=path,
        )
    return StorageError(
        f"I/O error: cannot {action} {path} ({error}); check the disk (dmesg) and its free "
        "space, then try again",
        path=path,
    )


def aside(path: Path) -> Path:
    """A free name beside ``path`` for a damaged copy: ``<name>.corrupt-<UTC time>[-n]``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target, n = path.with_name(f"{path.name}.corrupt-{stamp}"), 1
    while any(Path(f"{target}{suffix}").exists() for suffix in COMPANIONS):
        target, n = path.with_name(f"{path.name}.corrupt-{stamp}-{n}"), n + 1
    return target


def move_aside(path: Path) -> Path:
    """Rename a damaged store and its ``-wal`` / ``-shm`` to :func:`aside`; the new name.

    Raises:
        StorageError: they cannot be renamed (the folder is not writable, say).
    """
    target = aside(path)
    try:
        for suffix in COMPANIONS:
            if Path(f"{path}{suffix}").exists():
                os.replace(f"{path}{suffix}", f"{target}{suffix}")
    except OSError as error:
        raise StorageError.from_os(
            error,
            path,
            "move the damaged store aside",
            remedy="move or delete it (with its -wal and -shm files) by hand; a run rebuilds "
            "an empty store",
        ) from None
    return target
