"""Timed backend calls: each on a fresh daemon thread, so every attempt reaches the backend.

A thread pool of fixed size lets a call that timed out keep its thread: after as many hangs
as threads, later attempts wait in the queue and time out without ever reaching the backend.
So each timed call gets its own daemon thread, started at once: the timeout counts from when
the call starts, and a hung call never blocks interpreter exit.

A call that does not answer in time is *abandoned*: the executor stops waiting, asks the
backend to cancel it (when it can) and retries its rows. The call keeps its thread until the
backend returns; then :class:`Abandoned` hands it to a settle function (the executor's: count
the shots it spent, store its valid rows — they were paid for). At most ``limit`` abandoned
calls may still run at once: a backend that hangs on every call would otherwise pile up
threads, so past the limit the executor refuses to start another call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from qtrain.backends.protocol import Result
from qtrain.errors import ConfigError, ExecutionError

__all__ = ["Abandoned", "TimedCall"]


class TimedCall:
    """One backend call on its own daemon thread.

    Args:
        run: the call (``backend.run`` of a list of tasks).
        settle: called on the call's thread once it finishes, if it was abandoned first.
    """

    def __init__(
        self,
        run: Callable[[], Sequence[Result | None]],
        settle: Callable[[TimedCall], None],
    ) -> None:
        self.results: list[Result | None] | None = None
        self.error: BaseException | None = None
        self.abandoned = False
        self._run, self._settle = run, settle
        self._lock = threading.Lock()
        self._done = False
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._main, name="qtrain-call", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            self.results = list(self._run())
        except BaseException as error:  # handed to the waiting thread, re-raised there
            self.error = error
        with self._lock:
            self._done, late = True, self.abandoned
        self._finished.set()
        if late:
            self._settle(self)

    def wait(self, timeout_s: float, on_abandon: Callable[[TimedCall], None]) -> bool:
        """True if the call finished within ``timeout_s``; else abandon it and return False.

        ``on_abandon`` runs before the call can settle, so the two never race.
        """
        if self._finished.wait(timeout_s):
            return True
        with self._lock:
            if self._done:  # finished between the wait and the lock
                return True
            self.abandoned = True
            on_abandon(self)
        return False

    def join(self, timeout_s: float | None) -> None:
        """Wait for the call's thread (and its settling) to end."""
        self._thread.join(timeout_s)


class Abandoned:
    """The abandoned calls of one executor that may still be running.

    Args:
        limit: how many may run at once before :meth:`check_room` refuses another call.
    """

    def __init__(self, limit: int) -> None:
        if not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"max_abandoned must be a positive int, got {limit!r}")
        self.limit = limit
        self.lock = threading.Lock()  # also guards the counters that settling updates
        self._calls: set[TimedCall] = set()

    def __len__(self) -> int:
        with self.lock:
            return len(self._calls)

    def add(self, call: TimedCall) -> None:
        """Track ``call`` (the executor has stopped waiting for it)."""
        with self.lock:
            self._calls.add(call)

    def discard(self, call: TimedCall) -> None:
        """Forget ``call`` (it has finished and been settled)."""
        with self.lock:
            self._calls.discard(call)

    def check_room(self, backend: str) -> None:
        """Raise if ``limit`` abandoned calls are still running.

        Raises:
            ExecutionError: the backend hangs; it is not retried (retrying would start more
                threads that hang too).
        """
        running = len(self)
        if running >= self.limit:
            raise ExecutionError(
                f"{running} timed-out calls to {backend} are still running (max_abandoned="
                f"{self.limit}); not starting another: the backend appears to hang"
            )

    def wait(self, timeout_s: float | None = None) -> int:
        """Wait up to ``timeout_s`` in all for the running ones; returns how many still run."""
        with self.lock:
            calls = list(self._calls)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for call in calls:
            call.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return len(self)
