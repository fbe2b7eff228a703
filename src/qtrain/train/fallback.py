"""Backend fallback: when a step fails for good on one backend, go on with the next.

:class:`BackendFallback` is a step hook (``train/step_hooks.py``) holding an ordered list of
backends, the run's own first. When a step fails permanently — the executor raised an
:class:`~qtrain.errors.ExecutionError` after its retries (``IncompleteResultError``,
``JobLostError``, an invalid answer, a provider error) — the session's executor is replaced
by one over the next backend, with the same retry policy, store, options and counters, and
the step is tried again. Bad input (``ConfigError``, ``DeviceCapabilityError``), budgets
(``ShotAllowanceError``) and storage failures are not the backend's fault: no switch. With
no backend left, the step's error propagates as it was raised (a note names the backends
tried).

Every switch is recorded: in ``hook_states["fallback"]`` (the checkpoint: a resumed run
starts on the backend it had switched to), as a WARNING ``fallback.switch`` log line naming
both backends and the reason, in each step's ``StepRecord.backend``, and in
``summary.json``'s ``fallback``. Row keys name the backend's identity, so the store never
serves one backend's rows to another.

What the failed attempt spent on the failed backend — valid, rejected and late results,
overhead, and their money under that backend's price — is charged by the session
(``train/step_spend.py``), never here: the budget counts what the devices really spent, once.
The switch records those shots as ``wasted_shots``.

The drift canary's ``fallback`` policy calls :meth:`BackendFallback.switch` (it finds the
hook named ``"fallback"`` in ``session.hooks``).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qtrain.backends.protocol import Backend, identity_digest, is_asynchronous
from qtrain.errors import ConfigError, ExecutionError, QtrainError
from qtrain.exec.executor import Executor
from qtrain.logs import emit
from qtrain.train.records import StepRecord
from qtrain.train.step_hooks import HookResult

if TYPE_CHECKING:
    from qtrain.train.session import Session

__all__ = ["BackendFallback", "on_backend"]

_LOG = logging.getLogger("qtrain.fallback")


def on_backend(executor: Executor, backend: Backend) -> Executor:
    """An executor like ``executor`` (retry policy, store, options, counters) over ``backend``.

    The copy shares the original's store, thread pool and counters (the run's totals go on);
    its row keys name ``backend``'s identity.

    Raises:
        ConfigError: an executor that does not journal jobs (Dask) and a backend that runs
            a provider's jobs (``QiskitBackend``).
    """
    if not executor.journals_jobs and is_asynchronous(backend):
        raise ConfigError(
            f"backend fallback: {backend.name} runs a provider's jobs, which "
            f"{type(executor).__name__} cannot wait for; use qt.Executor"
        )
    switched = copy.copy(executor)
    switched.backend = backend
    return switched


class BackendFallback:
    """Go on with the next backend of ``backends`` when a step fails for good on one.

    Args:
        backends: the run's backend first, then the fallbacks, in order (at least one; the
            same backend object twice is refused).

    ``qt.fit(..., backend=primary, hooks=[BackendFallback([primary, secondary])])``.

    Raises:
        ConfigError: no backends, something that is not a backend, or one listed twice.
    """

    name = "fallback"

    def __init__(self, backends: Sequence[Backend]) -> None:
        backends = list(backends)
        if not backends:
            raise ConfigError("BackendFallback needs at least one backend (the run's own first)")
        for backend in backends:
            if not all(hasattr(backend, a) for a in ("name", "limits", "run")):
                raise ConfigError(
                    f"BackendFallback: {backend!r} is not a backend (name, limits, run)"
                )
        if len({id(b) for b in backends}) != len(backends):
            raise ConfigError("BackendFallback: a backend is listed twice")
        self.backends = backends
        self._checked = False

    # -- state -------------------------------------------------------------------------

    def _state(self, session: Session) -> dict[str, Any]:
        state = session.state.hook_states.setdefault(self.name, {"index": 0, "switches": []})
        return state  # type: ignore[no-any-return]  # JSON state of this hook

    def index(self, session: Session) -> int:
        """The position in :attr:`backends` the run is on."""
        return int(self._state(session)["index"])

    def _is_primary(self, backend: Backend) -> bool:
        primary = self.backends[0]
        return backend is primary or identity_digest(backend) == identity_digest(primary)

    def _start(self, session: Session) -> None:
        """First step of this session: on the backend the run had switched to, if any."""
        index = self.index(session)
        if index >= len(self.backends):
            raise ConfigError(
                f"backend fallback: the run had switched to backend {index + 1}, but only "
                f"{len(self.backends)} are listed; restore the fallback list"
            )
        current = session.executor.backend
        if index == 0 and not self._is_primary(current):
            raise ConfigError(
                f"BackendFallback: its first backend ({self.backends[0].name}) must be the "
                f"run's own ({current.name})"
            )
        for backend in self.backends[index + 1 :]:
            on_backend(session.executor, backend)  # refused now, not at the switch
        if index > 0 and current is not self.backends[index]:
            session.executor = on_backend(session.executor, self.backends[index])
            emit(
                _LOG,
                logging.INFO,
                "fallback.resumed",
                f"resuming on backend {self.backends[index].name} (switched from "
                f"{self.backends[0].name} before)",
                backend=self.backends[index].name,
            )
        self._checked = True

    # -- the hook ----------------------------------------------------------------------

    def before_step(self, session: Session) -> HookResult:
        """On the first step, restore the backend a resumed run had switched to."""
        if not self._checked:
            self._start(session)
        return HookResult()

    def after_step(self, session: Session, record: StepRecord) -> StepRecord:
        """Unchanged: the session names the step's backend (``StepRecord.backend``)."""
        del session
        return record

    def on_error(self, session: Session, error: QtrainError) -> bool:
        """Switch on a permanent execution failure; ``False`` for anything else or none left."""
        if not isinstance(error, ExecutionError):
            return False
        wasted = session.last_failure.shots  # charged by the session, recorded here
        reason = f"{type(error).__name__}: {error}"
        if self._switch(session, reason, wasted):
            return True
        tried = " → ".join(b.name for b in self.backends)
        error.add_note(f"backend fallback: tried {tried}; no backend left")
        emit(
            _LOG,
            logging.ERROR,
            "fallback.exhausted",
            f"backend {session.executor.backend.name} failed and no fallback is left ({reason})",
            backend=session.executor.backend.name,
            reason=reason,
        )
        return False

    def switch(self, session: Session, reason: str) -> bool:
        """Go on with the next backend; ``False`` (nothing changed) when none is left.

        ``reason`` is recorded with the switch (a drift policy's: ``"drift: ..."``).
        """
        return self._switch(session, reason, 0)

    def _switch(self, session: Session, reason: str, wasted: int) -> bool:
        if not self._checked:
            self._start(session)
        state = self._state(session)
        index = int(state["index"])
        if index + 1 >= len(self.backends):
            return False
        old, new = self.backends[index], self.backends[index + 1]
        session.executor = on_backend(session.executor, new)
        entry = {
            "step": session.state.step,
            "from": old.name,
            "to": new.name,
            "reason": reason,
            "wasted_shots": wasted,
        }
        state["index"] = index + 1
        state["switches"] = [*state["switches"], entry]
        emit(
            _LOG,
            logging.WARNING,
            "fallback.switch",
            f"backend fallback at step {entry['step']}: {old.name} → {new.name} ({reason})",
            step=entry["step"],
            from_backend=old.name,
            to_backend=new.name,
            reason=reason,
        )
        return True

    def summary(self, session: Session) -> dict[str, Any]:
        """``{"fallback": {backends, backend, index, switches}}`` for ``summary.json``."""
        state = self._state(session)
        index = int(state["index"])
        return {
            "fallback": {
                "backends": [b.name for b in self.backends],
                "backend": self.backends[min(index, len(self.backends) - 1)].name,
                "index": index,
                "switches": list(state["switches"]),
            }
        }
