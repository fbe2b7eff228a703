"""``DriftWatch``: a step hook that runs a canary and decides drift with a CUSUM.

Every ``every_steps`` steps (and/or ``every_seconds`` of run time) before a step, the hook
runs its :class:`~qtrain.train.canary.Canary` on the training backend through
``session.run_extra`` (its shots and money charged to the step, or to the ledger when the
step never runs; a canary the shots or money left cannot pay for is not run), standardises
the reading against the reference, ``z = (value − reference) / stderr``, and feeds it to a
two-sided CUSUM (:mod:`qtrain.diagnostics.drift`). The reference is the canary's own, else
the exact value on an ideal simulator, else (noisy backends, hardware) the weighted mean of
``baseline`` readings taken on the backend at the first canary run.

When drift is decided the policy acts, and the detector restarts from 0:

* ``warn``: a WARNING (``drift.detected``) on the ``qtrain.drift`` logger; training goes on.
* ``pause``: the run stops before the step with ``stopped_by="drift"`` (checkpointed). A
  resumed run re-baselines the canary at its next run: the level the person resuming
  accepted is the new normal, so a drift that persists does not pause it again at once.
* ``recalibrate``: the backend's readout calibration is measured again (``Mitigated``;
  charged in shots) or its calibration re-read (``refresh_calibration()``), then the canary
  is re-baselined.
* ``fallback``: the run's ``BackendFallback`` hook (``name == "fallback"``) switches to the
  next backend, where the canary is re-baselined (with no backend left, the run pauses).

The hook's state (detector, reference, canary runs, last run) is JSON in
``session.state.hook_states["drift"]``, checkpointed with every step.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from qtrain.backends.protocol import Task, child_seed
from qtrain.diagnostics.drift import Cusum, CusumDesign
from qtrain.errors import ConfigError, QtrainError
from qtrain.logs import emit
from qtrain.train.canary import Canary, is_ideal, reading
from qtrain.train.records import StepRecord
from qtrain.train.step_hooks import HookResult

if TYPE_CHECKING:
    from qtrain.train.session import Session

__all__ = ["POLICIES", "DriftWatch"]

POLICIES = ("warn", "pause", "recalibrate", "fallback")
Policy = Literal["warn", "pause", "recalibrate", "fallback"]
_LOG = logging.getLogger("qtrain.drift")


@dataclass
class _Run:
    """What one canary run spent and read."""

    shots: int = 0
    value: float = math.nan
    stderr: float = math.nan
    fields: dict[str, Any] = field(default_factory=dict)


def _refresh(backend: object) -> str:
    """Re-measure readout mitigation or re-read the calibration; what was refreshed."""
    current: object | None = backend
    while current is not None:
        forget = getattr(current, "forget_calibrations", None)
        if callable(forget):
            forget()
            return "readout calibration"
        refresh = getattr(current, "refresh_calibration", None)
        if callable(refresh):
            refresh()
            return "device calibration"
        current = getattr(current, "inner", None)
    return "nothing to refresh"


class DriftWatch:
    """Run a canary every ``every_steps`` steps / ``every_seconds`` s and act on drift.

    Args:
        canary: the canary (default: :meth:`Canary.from_objective` with the run's seed).
        every_steps: steps between canary runs (``None``: by time only).
        every_seconds: run seconds between canary runs (``None``: by steps only).
        shots: shots per measurement group of one canary run.
        policy: ``warn``, ``pause``, ``recalibrate`` or ``fallback`` (module docstring).
        threshold: the CUSUM's ``h`` in sd (ignored when ``arl`` is given).
        arl: instead of ``threshold``, the in-control mean canary runs to a false alarm.
        k: the CUSUM's reference value in sd (detects shifts near ``2k`` fastest).
        baseline: readings behind a baselined reference.
        reference: ``auto`` (exact on an ideal simulator, else baselined), ``exact`` or
            ``baseline``; a canary's own ``reference`` wins.

    >>> watch = DriftWatch(every_steps=5, shots=2000, policy="pause", arl=500)
    >>> round(watch.design.arl(0.0))
    500
    """

    name = "drift"

    def __init__(
        self,
        canary: Canary | None = None,
        *,
        every_steps: int | None = 10,
        every_seconds: float | None = None,
        shots: int = 1000,
        policy: Policy = "warn",
        threshold: float = 5.0,
        arl: float | None = None,
        k: float = 0.5,
        baseline: int = 16,
        reference: Literal["auto", "exact", "baseline"] = "auto",
    ) -> None:
        if canary is not None and not isinstance(canary, Canary):
            raise ConfigError(f"canary must be a Canary, got {type(canary).__name__}")
        if every_steps is None and every_seconds is None:
            raise ConfigError("a drift watch needs every_steps or every_seconds")
        if every_steps is not None and (not isinstance(every_steps, int) or every_steps < 1):
            raise ConfigError(f"every_steps must be an integer >= 1, got {every_steps!r}")
        if every_seconds is not None and not every_seconds > 0:
            raise ConfigError(f"every_seconds must be > 0, got {every_seconds!r}")
        if not isinstance(shots, int) or shots < 2:
            raise ConfigError(f"canary shots must be an integer >= 2, got {shots!r}")
        if policy not in POLICIES:
            raise ConfigError(f"unknown drift policy {policy!r}; choose one of {POLICIES}")
        if reference not in ("auto", "exact", "baseline"):
            raise ConfigError(f"reference must be auto, exact or baseline, got {reference!r}")
        if not isinstance(baseline, int) or baseline < 1:
            raise ConfigError(f"baseline must be an integer >= 1, got {baseline!r}")
        self.canary, self.every_steps, self.every_seconds = canary, every_steps, every_seconds
        self.shots, self.policy, self.baseline, self.reference = shots, policy, baseline, reference
        self._k, self._threshold, self._arl = k, threshold, arl
        self.design = self._design(baselined=reference != "exact")

    def _design(self, *, baselined: bool) -> CusumDesign:
        runs = self.baseline if baselined else 0
        if self._arl is not None:
            return CusumDesign.for_arl(self._arl, k=self._k, baseline=runs)
        return CusumDesign(self._k, self._threshold, runs)

    # -- state ---------------------------------------------------------------------------

    def _state(self, session: Session) -> dict[str, Any]:
        state = session.state.hook_states.get(self.name)
        if state is None:
            exact = self._exact(session)
            design = self._design(baselined=not exact)
            self.design = design
            state = {
                "detector": Cusum(design).to_dict(),
                "reference": None,
                "exact": exact,
                "canary_runs": 0,
                "last_step": None,
                "last_s": None,
                "paused": False,
            }
            session.state.hook_states[self.name] = state
        return dict(state)

    def _exact(self, session: Session) -> bool:
        if self.canary is not None and self.canary.reference is not None:
            return True
        if self.reference != "auto":
            return self.reference == "exact"
        return is_ideal(session.executor.backend)

    def _canary(self, session: Session) -> Canary:
        if self.canary is None:
            self.canary = Canary.from_objective(session.settings.objective, session.settings.seed)
        return self.canary

    def _due(self, session: Session, state: dict[str, Any]) -> bool:
        if state["last_step"] is None:
            return True
        if self.every_steps is not None and session.state.step - state["last_step"] >= (
            self.every_steps
        ):
            return True
        return self.every_seconds is not None and (
            session.elapsed() - float(state["last_s"]) >= self.every_seconds
        )

    # -- running the canary --------------------------------------------------------------

    def _execute(self, session: Session, tasks: list[Task]) -> tuple[list[Any], int] | None:
        """Run ``tasks`` through ``session.run_extra`` (charged there); ``None``: refused.

        Refused when the run's shots or money left cannot pay for them.
        """
        done = session.run_extra(tasks, purpose="drift canary")
        return None if done is None else (done.results, done.shots)

    def _tasks(self, session: Session, state: dict[str, Any], count: int) -> list[Task]:
        canary, seed = self._canary(session), session.settings.seed
        first = int(state["canary_runs"])
        state["canary_runs"] = first + count
        return [
            canary.task(self.shots, child_seed(seed, 1 << 20 | first + i)) for i in range(count)
        ]

    def _rebaseline(self, session: Session, state: dict[str, Any]) -> _Run | None:
        """Baseline the reference: the weighted mean of ``baseline`` canary runs (charged)."""
        saved = state["canary_runs"]
        done = self._execute(session, self._tasks(session, state, self.baseline))
        if done is None:
            state["canary_runs"] = saved
            return None
        results, shots = done
        values, errors = zip(*(reading(r, self.shots) for r in results), strict=True)
        weights = 1.0 / np.square(errors)
        mean = float(np.sum(weights * np.asarray(values)) / weights.sum())
        state["reference"] = mean
        return _Run(shots, mean, float(1.0 / math.sqrt(weights.sum())))

    def before_step(self, session: Session) -> HookResult:
        """Run the canary when due; act on drift (module docstring)."""
        if self.policy == "fallback" and not any(
            getattr(h, "name", None) == "fallback" for h in session.hooks
        ):
            raise ConfigError("drift policy 'fallback' needs a backend fallback hook (fallback:)")
        state = self._state(session)
        if state["paused"]:  # resumed after a pause: the level now is the new normal
            state.update(paused=False, reference=None, exact=False)
            state["detector"] = Cusum(self._design(baselined=True)).to_dict()
        if not self._due(session, state):
            session.state.hook_states[self.name] = state
            return HookResult()
        run, stop = self._run(session, state)
        session.state.hook_states[self.name] = state
        if run is None:
            return HookResult()
        # its shots and money are charged by session.run_extra, not reported again here
        return HookResult(stop=stop, fields={"canary": run.fields})

    def _run(self, session: Session, state: dict[str, Any]) -> tuple[_Run | None, str | None]:
        """One scheduled canary run (a baseline when there is no reference)."""
        detector = Cusum.from_dict(state["detector"])
        canary = self._canary(session)
        if state["reference"] is None and (canary.reference is not None or state["exact"]):
            exact = canary.reference if canary.reference is not None else canary.exact_value()
            state["reference"] = exact  # known: this run reads against it at once
        if state["reference"] is None:
            run = self._rebaseline(session, state)
            if run is None:
                return None, None
            residual, fired = 0.0, False
        else:
            done = self._execute(session, self._tasks(session, state, 1))
            if done is None:
                state["canary_runs"] -= 1
                return None, None
            value, stderr = reading(done[0][0], self.shots)
            run = _Run(done[1], value, stderr)
            residual = (value - float(state["reference"])) / stderr
            fired = detector.update(residual)
        state.update(last_step=session.state.step, last_s=session.elapsed())
        statistic, reference = detector.statistic, float(state["reference"])
        action, stop = "none", None
        if fired:
            action, stop = self._act(session, state, run, detector)
            detector.reset()
        state["detector"] = detector.to_dict()
        run.fields = {
            "value": run.value,
            "stderr": run.stderr,
            "reference": reference,
            "residual": residual,
            "statistic": statistic,
            "threshold": detector.design.h,
            "drift": fired,
            "action": action,
            "shots": run.shots,
        }
        return run, stop

    def _act(
        self, session: Session, state: dict[str, Any], run: _Run, detector: Cusum
    ) -> tuple[str, str | None]:
        """Carry out the policy; ``(action, stop reason)``."""
        design, reference = detector.design, float(state["reference"])
        sentence = (
            f"drift at step {session.state.step}: the canary read {run.value:.4g} ± "
            f"{run.stderr:.2g} against its reference {reference:.4g}; the CUSUM statistic "
            f"{detector.statistic:.3g} passed its threshold {design.h:.3g} (policy {self.policy})"
        )
        emit(
            _LOG,
            logging.WARNING,
            "drift.detected",
            sentence,
            policy=self.policy,
            value=run.value,
            reference=reference,
            statistic=detector.statistic,
        )
        if self.policy == "warn":
            return "warn", None
        if self.policy == "pause":
            state["paused"] = True
            return "pause", "drift"
        if self.policy == "recalibrate":
            what = _refresh(session.executor.backend)
            emit(_LOG, logging.INFO, "drift.recalibrated", f"drift: refreshed {what}")
        else:
            fallback = next(h for h in session.hooks if getattr(h, "name", None) == "fallback")
            if not fallback.switch(session, "drift"):  # type: ignore[attr-defined]
                state["paused"] = True
                return "pause", "drift"
        if self.policy == "recalibrate":
            state["exact"] = False  # the refreshed level is measured, not assumed
        canary = self._canary(session)
        state["reference"] = canary.reference
        if canary.reference is None and state["exact"]:
            state["reference"] = canary.exact_value()
        elif canary.reference is None:
            again = self._rebaseline(session, state)  # None: the budget cannot pay; later
            run.shots += 0 if again is None else again.shots
        detector.design = self._design(baselined=not state["exact"])
        return self.policy, None

    def after_step(self, session: Session, record: StepRecord) -> StepRecord:
        """The record as it is (the canary's fields came with ``before_step``)."""
        del session
        return record

    def on_error(self, session: Session, error: QtrainError) -> bool:
        """A drift watch mends no failed step."""
        del session, error
        return False
