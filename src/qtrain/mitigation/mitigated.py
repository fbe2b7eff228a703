"""``qt.Mitigated``: readout-error mitigation and zero-noise extrapolation as a backend wrapper.

It implements the backend protocol, so ``qt.expval``, ``qt.grad``, ``qt.fit``, variance scans,
the executor's retries, the store and Dask run through it unchanged. A call becomes one call
of the inner backend holding, for every task, one task per scale factor (the folded circuit,
same parameter rows, the task's shots split over the factors: ``mitigation.zne``) whose
observables are the readout-inverted measurement groups (``mitigation.readout``), so a
task's ``(B, G)`` shots are spent exactly: mitigation costs variance, not shots. The only
extra shots are the readout calibration's, reported as ``metadata["overhead_shots"]``.

Per task: values per factor (readout-mitigated), extrapolated to zero noise; the variance is
``Σ_λ w_λ² Var y_λ`` (independent factors) plus the calibration's delta-method term, whose
derivatives are combined over groups and factors first (one calibration error moves them
all). ``metadata["mitigation"]`` holds the raw (unmitigated, first factor) values, the
values per factor, the factors reached and the calibration used.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import (
    Backend,
    BackendLimits,
    Result,
    Task,
    backend_identity,
    fresh_seed,
)
from qtrain.errors import ConfigError, MitigationError
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.logs import emit
from qtrain.mitigation.asynchronous import AsynchronousMitigation
from qtrain.mitigation.calibrations import Calibrations
from qtrain.mitigation.combine import Combined, combine
from qtrain.mitigation.correlated import ConfusionMatrix, correlated_group
from qtrain.mitigation.inner import usable
from qtrain.mitigation.readout import (
    ReadoutCalibration,
    ReadoutMitigation,
    derived_seed,
    mitigated_groups,
)
from qtrain.mitigation.zne import ZNE, split_shots

__all__ = ["Mitigated", "Overhead", "TaskPlan"]

_LOG = logging.getLogger("qtrain.mitigation")


@dataclass(frozen=True)
class Overhead:
    """What mitigation adds to a call (``Mitigated.overhead``), for plans and budgets.

    Attributes:
        circuits: circuits the inner backend runs (tasks × scale factors), against ``tasks``.
        rows: parameter rows the inner backend runs, against ``rows_unmitigated``.
        shots: data shots: the tasks' own (split over factors, never multiplied).
        calibration_shots: shots of readout calibrations still to measure (0 when cached
            or given), with ``calibration_circuits`` circuits.
        variance_factor: how much ZNE multiplies a value's variance at equal per-shot
            variance, ``Σ_λ w_λ²/π_λ`` (weights ``w``, shot fractions ``π``); 1 without ZNE.
    """

    tasks: int
    circuits: int
    rows_unmitigated: int
    rows: int
    shots: int
    calibration_shots: int
    calibration_circuits: int
    variance_factor: float


@dataclass(eq=False)
class TaskPlan:
    """One outer task as inner tasks: one per scale factor, and how to read them back."""

    task: Task
    factors: tuple[float, ...]
    first: int  # index of its first inner task
    calibration: ReadoutCalibration | ConfusionMatrix | None
    rewritten: tuple[tuple[Observable, ...], ...] = field(default=())  # per observable, group
    estimates: tuple[tuple[NDArray[np.float64], ...], ...] = field(default=())  # correlated: u


class Mitigated(AsynchronousMitigation):
    """A backend whose results are mitigated: readout errors inverted, noise extrapolated away.

    Args:
        backend: the backend that runs the circuits (any ``Backend``).
        readout: ``True`` (calibration circuits measured on the backend), a
            :class:`ReadoutMitigation`, or ``None``/``False`` for none.
        zne: a :class:`ZNE` (folding and extrapolation), or ``None``.

    Raises:
        MitigationError: neither readout nor zne asked for, or a bad option.

    >>> import numpy as np, qtrain as qt
    >>> noise = qt.NoiseModel().readout(qt.noise.readout_error(0.05, 0.1))
    >>> sim = qt.Mitigated(qt.LocalSimulator(noise=noise), readout=True)
    >>> c = qt.Circuit(1).ry(0, qt.P(0))
    >>> value = qt.expval(c, qt.Z(0), np.array([0.4]), backend=sim)  # exact: readout inverted
    >>> bool(abs(value - np.cos(0.4)) < 1e-12)
    True
    """

    unbounded_values = True  # an inverted or extrapolated value may leave the spectrum
    transforms_values = True  # its values are not its inner backend's (no exact shortcut)

    def __init__(
        self,
        backend: Backend,
        *,
        readout: bool | ReadoutMitigation | None = None,
        zne: ZNE | None = None,
    ) -> None:
        if isinstance(backend, type) or not isinstance(backend, Backend):
            raise ConfigError(f"Mitigated needs a backend instance, got {backend!r}")
        if readout is True:
            readout = ReadoutMitigation()
        if readout is False:
            readout = None
        if readout is not None and not isinstance(readout, ReadoutMitigation):
            raise MitigationError(
                f"readout must be True, False, None or a qt.ReadoutMitigation, got {readout!r}"
            )
        if zne is not None and not isinstance(zne, ZNE):
            raise MitigationError(f"zne must be None or a qt.ZNE, got {zne!r}")
        if readout is None and zne is None:
            raise MitigationError("Mitigated: nothing to mitigate; give readout= and/or zne=")
        self.inner = backend
        self.readout = readout
        self.zne = zne
        self._calibrations = None if readout is None else Calibrations(readout)
        self._unreported = 0  # calibration shots no result has reported yet
        self._inner_calls: dict[int, list[Task]] = {}  # id(outer tasks) -> the inner call's

    @property
    def name(self) -> str:
        """``mitigated(<inner name>)``."""
        return f"mitigated({self.inner.name})"

    @property
    def limits(self) -> BackendLimits:
        """The inner backend's limits (a task's shots are split, never multiplied)."""
        return self.inner.limits

    @property
    def independent_samples(self) -> int | None:
        """The inner backend's (``Backend`` protocol)."""
        samples = getattr(self.inner, "independent_samples", None)
        return samples if isinstance(samples, int) else None

    @property
    def identity_epoch(self) -> object:
        """The inner backend's (its identity changes with its calibration)."""
        return getattr(self.inner, "identity_epoch", None)

    def identity(self) -> dict[str, object]:
        """The inner backend's identity under ``"inner"``, with the mitigation options."""
        return {
            "backend": "mitigated",
            "inner": backend_identity(self.inner),
            "readout": None if self.readout is None else self.readout.describe(),
            "zne": None if self.zne is None else self.zne.describe(),
        }

    def rewrapped(self, backend: Backend) -> Mitigated:
        """The same mitigation around another backend (measured calibrations not shared)."""
        return Mitigated(backend, readout=self.readout, zne=self.zne)

    def cancel(self, tasks: Sequence[Task]) -> None:
        """Cancel the inner call that runs ``tasks`` (best effort, as the protocol says)."""
        cancel = getattr(self.inner, "cancel", None)
        inner = self._inner_calls.get(id(tasks))
        if callable(cancel) and inner is not None:
            cancel(inner)

    def forget_calibrations(self) -> None:
        """Drop every measured readout calibration: the next call measures them again.

        A drift watch's ``recalibrate`` policy; the executor charges the new calibration's
        shots (``overhead_shots``) like the first.
        """
        if self._calibrations is not None:
            for key in list(self._calibrations.kept):
                self._calibrations.forget(key)

    def prepare(self, tasks: Sequence[Task]) -> int:
        """Measure the readout calibrations ``tasks`` need now; the shots that cost.

        The executor calls it once per call before spreading the call over threads or Dask
        workers (which then get the calibrations with the backend) and charges the shots
        (``overhead_shots``); they are not reported again by a result.
        """
        if self._calibrations is None or not self._calibrations.readout.measured:
            return 0
        before = self._calibrations.spent
        for n_qubits, exact in {(t.circuit.n_qubits, t.shots is None) for t in tasks}:
            self._calibrations.get(self.inner, n_qubits, exact)
        return self._calibrations.spent - before

    def calibration(
        self, n_qubits: int, *, exact: bool
    ) -> ReadoutCalibration | ConfusionMatrix | None:
        """The readout calibration for ``n_qubits`` wires, measuring it if needed.

        Returns ``None`` without readout mitigation. A measured calibration is kept per
        ``(n_qubits, exact)`` until it is older than ``max_age_s`` or the backend reports a
        new calibration id (``mitigation.calibrations``).
        """
        if self.readout is None or self._calibrations is None:
            return None
        if not self.readout.measured:
            return self.readout.given(n_qubits)
        return self._calibrations.get(self.inner, n_qubits, exact)

    def overhead(self, tasks: Sequence[Task]) -> Overhead:
        """What running ``tasks`` costs beyond the unmitigated call; runs nothing."""
        factors = 1 if self.zne is None else len(self.zne.factors)
        rows = sum(task.params.shape[0] for task in tasks)
        shots = sum(int(m.sum()) for m in (t.shot_matrix() for t in tasks) if m is not None)
        circuits = calibration_shots = 0
        if self._calibrations is not None and self._calibrations.readout.measured:
            circuits, calibration_shots = self._calibrations.pending(tasks)
        variance = 1.0
        if self.zne is not None:
            weights = self.zne.fit.weights(self.zne.factors)
            variance = float(np.sum(weights**2 / self.zne.fractions()))
        return Overhead(
            tasks=len(tasks),
            circuits=len(tasks) * factors,
            rows_unmitigated=rows,
            rows=rows * factors,
            shots=shots,
            calibration_shots=calibration_shots,
            calibration_circuits=circuits,
            variance_factor=variance,
        )

    def plan(self, tasks: Sequence[Task]) -> tuple[list[TaskPlan], list[Task], int]:
        """Every task's plan, the inner tasks and the calibration shots spent meanwhile.

        Calibration shots are reported by the call's first result that comes back
        (``metadata["overhead_shots"]``: the executor charges them to the ledger and the
        budget), or by a later call's if none does.

        Raises:
            MitigationError: shots that cannot be split over the factors (before any work).
        """
        tasks = [_seeded(task) for task in tasks]
        fractions = None if self.zne is None else self.zne.fractions()
        splits = []
        for task in tasks:
            shots = task.shot_matrix()
            splits.append(
                None if shots is None or fractions is None else split_shots(shots, fractions)
            )
        spent_before = 0 if self._calibrations is None else self._calibrations.spent
        plans: list[TaskPlan] = []
        inner: list[Task] = []
        for task, split in zip(tasks, splits, strict=True):
            plan, made = self._plan_one(task, split, len(inner))
            plans.append(plan)
            inner.extend(made)
        overhead = (0 if self._calibrations is None else self._calibrations.spent) - spent_before
        self._unreported += overhead  # until a result reports it
        return plans, inner, overhead

    def _plan_one(
        self, task: Task, split: NDArray[np.int64] | None, first: int
    ) -> tuple[TaskPlan, list[Task]]:
        exact = task.shots is None
        seed = None if exact else task.seed
        calibration = self.calibration(task.circuit.n_qubits, exact=exact)
        circuits: tuple[Circuit, ...] = (task.circuit,)
        factors: tuple[float, ...] = (1.0,)
        if self.zne is not None:
            circuits, factors = self.zne.folded(task.circuit)
        observables = task.observables
        rewritten: tuple[tuple[Observable, ...], ...] = ()
        estimates: tuple[tuple[NDArray[np.float64], ...], ...] = ()
        if isinstance(calibration, ConfusionMatrix):
            pairs = [
                [correlated_group(obs, g, calibration) for g in obs.groups()]
                for obs in task.observables
            ]
            rewritten = tuple(tuple(o for o, _ in row) for row in pairs)
            estimates = tuple(tuple(u for _, u in row) for row in pairs)
        elif calibration is not None:
            maps = calibration.inverse_maps()
            rewritten = tuple(mitigated_groups(obs, maps) for obs in task.observables)
        if rewritten:  # one inner observable per measurement group, in the groups' order
            observables = tuple(o for groups in rewritten for o in groups)
        terms = not exact and calibration is not None  # raw values, calibration derivatives
        made = []
        for index, circuit in enumerate(circuits):
            shots = task.shots if split is None else split[index]
            made.append(
                Task(
                    circuit,
                    observables,
                    task.params,
                    shots,
                    None if seed is None else derived_seed(seed, index + 1),
                    term_values=terms,
                )
            )
        return TaskPlan(task, factors, first, calibration, rewritten, estimates), made

    def run(self, tasks: Sequence[Task]) -> list[Result | None]:
        """Mitigated results, one per task (``None`` where an inner result is missing)."""
        plans, inner, _ = self.plan(tasks)
        self._inner_calls[id(tasks)] = inner
        try:
            results = list(self.inner.run(inner)) if inner else []
        finally:
            self._inner_calls.pop(id(tasks), None)
        return self.combined(plans, inner, results)

    def combined(
        self, plans: Sequence[TaskPlan], inner: Sequence[Task], results: Sequence[Result | None]
    ) -> list[Result | None]:
        """One mitigated result per plan from the inner call's ``results`` (``None``: missing)."""
        out: list[Result | None] = []
        for plan in plans:
            own = results[plan.first : plan.first + len(plan.factors)]
            made = inner[plan.first : plan.first + len(plan.factors)]
            if not all(usable(t, r) for t, r in zip(made, own, strict=True)):
                # the executor resubmits the task; the shots its factors spent are spent
                self._unreported += sum(r.shots for r in own if r is not None)
                out.append(None)
                continue
            combined = combine(plan, [r for r in own if r is not None], self.zne)
            _log_fallback(self.name, plan, combined)
            out.append(self._result(plan, combined, self._unreported))
            self._unreported = 0  # reported once, by the first result that came back
            self._notice_recalibration(plan, own)
        return out

    def _result(self, plan: TaskPlan, combined: Combined, overhead: int) -> Result:
        metadata: dict[str, object] = {
            "backend": self.name,
            "mitigation": combined.metadata,
            "overhead_shots": overhead,
        }
        if combined.calibration_id:
            metadata["calibration_id"] = combined.calibration_id
        cal = plan.calibration
        if combined.shared is not None and cal is not None:  # Result's "shared_errors"
            loadings, variances = combined.shared
            source = f"readout:{cal.calibration_id}:{cal.measured_at!r}:{cal.shots}"
            metadata["shared_errors"] = {
                "source": source,
                "loadings": loadings,
                "variances": variances,
            }
        if plan.task.shots is not None:
            metadata["seed"] = plan.task.seed
        return Result(combined.values, combined.variances, combined.shots, metadata)

    def _notice_recalibration(self, plan: TaskPlan, results: Sequence[Result | None]) -> None:
        """Drop a measured calibration when the backend names a new calibration id."""
        cal = plan.calibration
        if cal is None or self.readout is None or not self.readout.measured:
            return
        ids = {str(r.metadata.get("calibration_id", "")) for r in results if r is not None}
        if ids - {"", cal.calibration_id} and self._calibrations is not None:
            self._calibrations.forget((plan.task.circuit.n_qubits, plan.task.shots is None))


def _log_fallback(name: str, plan: TaskPlan, combined: Combined) -> None:
    """One ``mitigation.fallback`` log event for a task with cells the fit could not answer."""
    cells = combined.metadata.get("fallback_cells", 0)
    if isinstance(cells, int) and cells > 0:
        emit(
            _LOG,
            logging.WARNING,
            "mitigation.fallback",
            f"{cells} value(s) lie on both sides of the exponential's asymptote: linear fit used",
            backend=name,
            cells=cells,
            rows=int(plan.task.params.shape[0]),
        )


def _seeded(task: Task) -> Task:
    """``task`` with a seed when sampled (``None`` means fresh entropy, drawn here)."""
    if task.shots is None or task.seed is not None:
        return task
    return replace(task, seed=fresh_seed())
