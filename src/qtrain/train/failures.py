"""What a run says when its disk or folder fails: what is saved, what runs again, what to do.

A storage failure (``qtrain.errors.StorageError``: a full disk, a folder turned read-only, a
file without permission) stops the run with one message that names the file, tells what the
checkpoint holds — the step it is at, and whether the step in progress runs again on resume
and must pay for rows the store could not keep — and how to continue. Rows a full disk kept
out of the result store are held in memory by the store (``ResultStore.unsaved``); the loop
finishes the step with them and writes its checkpoint, so when that write succeeds nothing
is lost, and the run stops after the step (:func:`check_store`).
"""

from __future__ import annotations

from pathlib import Path

from qtrain.errors import DiskFullError, StorageError
from qtrain.exec.executor import Executor
from qtrain.exec.store import ResultStore

__all__ = ["check_store", "explained", "held_rows"]


def _store(executor: Executor) -> ResultStore | None:
    store = getattr(executor, "store", None)
    return store if isinstance(store, ResultStore) else None


def held_rows(executor: Executor, *, drop: bool = False) -> int:
    """Finished rows the executor's store holds in memory (a full disk); ``drop`` forgets them."""
    store = _store(executor)
    if store is None:
        return 0
    return store.drop_unsaved() if drop else store.unsaved


def check_store(executor: Executor, step: int) -> None:
    """After step ``step`` is checkpointed: stop the run if the store still cannot write.

    Raises:
        DiskFullError: rows of the step are held in memory and a retry did not store them.
    """
    store = _store(executor)
    if store is not None and store.unsaved and store.flush():
        raise DiskFullError(
            f"disk full: {store.unsaved} finished row(s) of step {step} could not be written to "
            f"{store.path}",
            path=store.path,
        )


def explained(
    error: StorageError,
    *,
    run_dir: Path | None,
    saved: int,
    unsaved_step: int | None,
    lost_rows: int,
) -> StorageError:
    """``error`` with what it means for the run in ``run_dir``, as one line.

    Args:
        error: what failed (its message names the file).
        run_dir: the run folder (``None``: nothing was checkpointed, nothing to resume).
        saved: the step of the last checkpoint written.
        unsaved_step: the step that finished but is not in the checkpoint, if any.
        lost_rows: finished rows of it the store could not keep.
    """
    if run_dir is None:
        return error
    if unsaved_step is None:
        fate = (
            f"its checkpoint (step {saved}) is saved, so nothing is lost"
            if saved
            else "no step had finished, so nothing is lost"
        )
    else:
        fate = f"step {unsaved_step} finished but could not be saved, so it "
        if lost_rows:
            fate += (
                f"runs again on resume, and {lost_rows} of its finished row(s) that could not be "
                "stored are computed (and paid for) again"
            )
        else:
            fate += "runs again on resume, reading its finished rows back from the store"
        fate += (
            f"; the checkpoint at step {saved} is intact"
            if saved
            else "; no step was checkpointed yet: resume starts the run from step 0"
        )
    return type(error)(
        f"{error}. The run stopped: {fate}. Continue it with: qtrain resume {run_dir} (or "
        "fit(..., resume=True))",
        path=error.path,
    )
