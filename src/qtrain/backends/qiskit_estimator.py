"""Estimator PUBs for ``QiskitBackend``: exact values on Aer, and EstimatorV2 targets.

An estimator returns, per PUB, each row's expectation value (``evs``) and its standard error
(``stds``). Two uses:

* **exact** tasks on Aer: precision 0 (Aer's ``save_expectation_value`` path), one PUB per
  observable with every row.
* **sampled** tasks on an ``EstimatorV2`` target: an estimator takes a *precision* (the
  standard error it aims for), not shots per measurement group, so the shot policy's shots
  become a precision per (row, observable): ``sqrt(Σ_g b_g² / N_g)`` over the observable's
  groups, ``b_g`` the group's largest ``|eigenvalue|`` and ``N_g`` its shots — the standard
  error those shots guarantee whatever the state. Rows of one observable that share a
  precision share a PUB. The variance reported is the estimator's ``stds²``; the shots
  recorded are the policy's (an estimator chooses its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Task
from qtrain.backends.qiskit_compile import Compiled
from qtrain.sim.measure import measurement_plan

__all__ = ["EstimatorLayout", "estimator_layout", "estimator_values", "precisions"]

Real = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class EstimatorLayout:
    """The PUBs of one task and where each PUB's values go.

    Attributes:
        pubs: ``(circuit, SparsePauliOp, parameter values or None, precision)`` tuples.
        places: per PUB, ``(observable, rows)``: the task's rows its values belong to.
    """

    pubs: list[tuple[Any, Any, Real | None, float]]
    places: list[tuple[int, NDArray[np.intp]]]

    def jobs(self) -> list[list[int]]:
        """PUB indices per job: one job per precision (qiskit-ibm-runtime's rule), in order."""
        by_precision: dict[float, list[int]] = {}
        for index, pub in enumerate(self.pubs):
            by_precision.setdefault(pub[3], []).append(index)
        return list(by_precision.values())


def precisions(task: Task, n_qubits: int) -> Real:
    """``(B, O)`` the standard error the task's shots guarantee for each row and observable."""
    shots = task.shot_matrix()
    assert shots is not None  # sampled tasks only
    out = np.zeros((task.params.shape[0], len(task.observables)))
    g = 0
    for o, observable in enumerate(task.observables):
        for group in measurement_plan(observable, n_qubits).groups:
            bound = float(np.max(np.abs(group.eigenvalues)))
            out[:, o] += bound * bound / shots[:, g]
            g += 1
    return np.asarray(np.sqrt(out), dtype=np.float64)


def estimator_layout(task: Task, compiled: Compiled) -> EstimatorLayout:
    """The task's PUBs: precision 0 when exact, else one PUB per (observable, precision)."""
    rows = task.params.shape[0]
    binds: Real | None = compiled.bindings(task.params)
    if binds is not None and binds.shape[1] == 0:
        binds = None  # Aer runs only the first row of an empty parameter array
    wanted = (
        np.zeros((rows, len(task.observables)))
        if task.shots is None
        else precisions(task, compiled.n_qubits)
    )
    pubs: list[tuple[Any, Any, Real | None, float]] = []
    places: list[tuple[int, NDArray[np.intp]]] = []
    for o, observable in enumerate(task.observables):
        operator = compiled.sparse_op(observable)
        for precision in np.unique(wanted[:, o]):
            picked = np.flatnonzero(wanted[:, o] == precision)
            values = None if binds is None else binds[picked]
            pubs.append((compiled.circuit, operator, values, float(precision)))
            places.append((o, picked))
    return EstimatorLayout(pubs, places)


def estimator_values(
    task: Task, layout: EstimatorLayout, results: Sequence[Any]
) -> tuple[Real, Real | None]:
    """``(values (B, O), variances (B, O) or None when exact)`` from the PUB results.

    ``results`` are in the order of :meth:`EstimatorLayout.jobs`, job after job.
    """
    shape = (task.params.shape[0], len(task.observables))
    values, variances = np.zeros(shape), np.zeros(shape)
    order = [index for job in layout.jobs() for index in job]
    for index, result in zip(order, results, strict=True):
        o, rows = layout.places[index]
        values[rows, o] = np.broadcast_to(np.asarray(result.data.evs, np.float64), rows.shape)
        stds = np.broadcast_to(np.asarray(result.data.stds, np.float64), rows.shape)
        variances[rows, o] = stds * stds
    return values, None if task.shots is None else variances
