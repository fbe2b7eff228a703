"""``qtrain store info | prune | prune-jobs``: inspect and clean a durable result store.

``info`` also shows the job journal (``exec.jobs``): provider jobs paid for and not yet read
back, and how old the oldest is; ``prune-jobs`` drops its orphaned entries.

A file that is not a result store (a README, an empty file, another program's SQLite
database) is refused as one line, exit status 2, and is never written to; a store that is
damaged (a ``.sqlite`` / ``.db`` file that is not SQLite inside, or a broken one) exits 65,
one that may not be read 66 (``EXIT_STATUS`` in :mod:`qtrain.cli.views`).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Annotated

import typer

from qtrain.cli.views import friendly_errors
from qtrain.errors import ConfigError, StorageError
from qtrain.exec.jobs import DEFAULT_MAX_AGE_S, JobJournal
from qtrain.exec.store import ResultStore

__all__ = ["checked_store", "store_app"]

store_app = typer.Typer(help="Inspect and clean a durable result store.", no_args_is_help=True)

StorePath = Annotated[
    Path,
    typer.Argument(exists=True, dir_okay=False, help="A result store (a run's results.sqlite)."),
]

_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file
_ADVICE = "give a run's results.sqlite, or the store.path of a config"
_DATABASE_SUFFIXES = frozenset({".sqlite", ".sqlite3", ".db"})  # not SQLite inside: damaged


def checked_store(path: Path) -> Path:
    """``path``, once it looks like a qtrain result store; nothing is written to it.

    Raises:
        ConfigError: it is empty, not an SQLite database, or one without a results table.
        StorageError: it may not be read (``NotReadableError``).
    """
    try:
        with Path(path).open("rb") as file:
            head = file.read(len(_HEADER))
    except OSError as error:
        raise StorageError.from_os(error, path, "read the store") from None
    if not head:
        raise ConfigError(f"{path} is not a qtrain result store (an empty file): {_ADVICE}")
    if head != _HEADER:
        if Path(path).suffix.lower() in _DATABASE_SUFFIXES:
            return path  # a store whose contents were destroyed: ResultStore says so (65)
        raise ConfigError(f"{path} is not a qtrain result store (not an SQLite file): {_ADVICE}")
    try:
        connection = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        try:
            query = "SELECT name FROM sqlite_master WHERE type = 'table'"
            tables = {row[0] for row in connection.execute(query)}
        finally:
            connection.close()
    except sqlite3.Error:
        return path  # a damaged store: ResultStore names it (exit 65)
    if "results" not in tables:
        raise ConfigError(
            f"{path} is an SQLite database but not a qtrain result store (no results table): "
            f"{_ADVICE}"
        )
    return path


@store_app.command("info")
@friendly_errors
def store_info(path: StorePath) -> None:
    """Count the finished rows and pending jobs in the store at PATH.

    A damaged store is reported, not moved.
    """
    store = ResultStore(checked_store(path), on_corrupt="raise")
    try:
        typer.echo(f"{path}: {len(store)} finished row(s)")
        count, oldest = JobJournal(store).summary()
    finally:
        store.close()
    if oldest is None:
        typer.echo(f"{path}: no pending provider jobs in the job journal")
        return
    age = max(0.0, time.time() - oldest) / 86400.0
    typer.echo(
        f"{path}: {count} pending job entr(ies) in the job journal, the oldest {age:.1f} "
        "day(s) old (qtrain store prune-jobs drops orphans)"
    )


@store_app.command("prune")
@friendly_errors
def store_prune(
    path: StorePath,
    older_than_days: Annotated[float, typer.Option(min=0.0, help="Age limit in days.")] = 30.0,
) -> None:
    """Delete rows older than --older-than-days from the store at PATH."""
    store = ResultStore(checked_store(path), on_corrupt="raise")
    try:
        removed = store.prune(older_than_s=older_than_days * 86400.0)
    finally:
        store.close()
    typer.echo(f"{path}: removed {removed} row(s) older than {older_than_days:g} day(s)")


@store_app.command("prune-jobs")
@friendly_errors
def store_prune_jobs(
    path: StorePath,
    older_than_days: Annotated[
        float, typer.Option(help="Age limit in days (more than 0).")
    ] = DEFAULT_MAX_AGE_S / 86400.0,
) -> None:
    """Drop orphaned job-journal entries from the store at PATH.

    An entry goes when every row of its call is stored, or when it is older than
    --older-than-days. Younger entries of unfinished calls stay: a resumed run re-attaches
    to their jobs instead of paying for them again.
    """
    if not 0.0 < older_than_days < float("inf"):
        raise typer.BadParameter(
            f"must be a positive number of days, got {older_than_days:g}",
            param_hint="--older-than-days",
        )
    store = ResultStore(checked_store(path), on_corrupt="raise")
    try:
        pruned = JobJournal(store).prune(max_age_s=older_than_days * 86400.0)
    finally:
        store.close()
    typer.echo(
        f"{path}: removed {pruned.count} job entr(ies): {len(pruned.stored)} with every row "
        f"stored, {len(pruned.expired)} older than {older_than_days:g} day(s)"
    )
    for key in pruned.stored:
        typer.echo(f"  {key}  every row stored")
    for key in pruned.expired:
        typer.echo(f"  {key}  older than {older_than_days:g} day(s)")
