"""Asynchronous jobs through a mitigated backend: ``Mitigated`` over ``QiskitBackend``.

When the inner backend's calls are provider jobs (``backends.protocol.Asynchronous``), the
mitigated backend is asynchronous too, so the executor journals its jobs and a killed run
re-attaches to them: :meth:`AsynchronousMitigation.submit` plans the inner tasks (one per
scale factor, observables rewritten by the readout calibration) and submits them;
:meth:`~AsynchronousMitigation.attach` plans them again — the same tasks, since calibrations
are measured with the run's pinned seed — and lets the inner backend find its jobs (which
refuses, ``JobLostError``, if the inner tasks are not the ones its jobs ran);
:meth:`~AsynchronousMitigation.collect` waits and combines. Over a backend without jobs (the
local simulator) ``asynchronous`` is false and the executor calls ``run``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from qtrain.backends.protocol import Backend, Result, Submission, Task, is_asynchronous
from qtrain.errors import ConfigError

__all__ = ["AsynchronousMitigation"]


class AsynchronousMitigation:
    """``submit``/``attach``/``collect`` of :class:`~qtrain.mitigation.mitigated.Mitigated`."""

    inner: Backend
    _inner_calls: dict[int, list[Task]]

    def plan(self, tasks: Sequence[Task]) -> tuple[list[Any], list[Task], int]:
        """The tasks' plans and inner tasks (``Mitigated.plan``)."""
        raise NotImplementedError

    def combined(
        self, plans: Sequence[Any], inner: Sequence[Task], results: Sequence[Result | None]
    ) -> list[Result | None]:
        """Mitigated results from inner ones (``Mitigated.combined``)."""
        raise NotImplementedError

    @property
    def asynchronous(self) -> bool:
        """Whether the inner backend's calls are jobs (then the executor journals them)."""
        return is_asynchronous(self.inner)

    def _inner_async(self) -> Any:
        if not is_asynchronous(self.inner):
            raise ConfigError(f"{self.inner.name} runs no asynchronous jobs: call run()")
        return self.inner

    def submit(self, tasks: Sequence[Task]) -> Submission:
        """Plan the inner tasks and submit them; returns without waiting."""
        plans, inner, _ = self.plan(tasks)
        submission = self._inner_async().submit(inner)
        self._inner_calls[id(tasks)] = inner
        return Submission(submission.ref, (id(tasks), plans, inner, submission))

    def attach(self, ref: Mapping[str, Any], tasks: Sequence[Task]) -> Submission:
        """The inner jobs ``ref`` names, for the same ``tasks`` (planned again)."""
        plans, inner, _ = self.plan(tasks)
        submission = self._inner_async().attach(ref, inner)
        self._inner_calls[id(tasks)] = inner
        return Submission(dict(ref), (id(tasks), plans, inner, submission))

    def collect(self, submission: Submission) -> list[Result | None]:
        """Wait for the inner jobs; one mitigated result per task."""
        call, plans, inner, own = submission.state
        try:
            results = list(self._inner_async().collect(own))
        finally:
            self._inner_calls.pop(call, None)
        return self.combined(plans, inner, results)
