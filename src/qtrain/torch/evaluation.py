"""Values and Jacobians of a whole batch of parameter rows, in one executor call.

For a batch of ``B`` parameter rows ``θ (B, P)`` (one per sample) this computes the values
``(B, O)`` and, for chosen columns ``K`` of ``θ``, the Jacobians ``(B, O, K)``.

* **Parameter shift** (Schuld et al., PRA 99, 032331 (2019); general rules: Wierichs et
  al., Quantum 6, 677 (2022)). The circuit is lowered to angle slots
  (``angles = θ @ Mᵀ + b``, ``passes.slots``). The shifts of a rule do not depend on the
  point, so the pattern is built once: row offsets ``D (R, S)`` (row 0 unshifted) and
  weights ``W (R, K) = Σ c_si · M[s, K]``. The rows of every sample are
  ``angles[b] + D``: ``B·R`` rows of one :class:`~qtrain.backends.protocol.Task`, one
  ``executor.run``; ``J[b] = Wᵀ v[b]`` and, with shots,
  ``Var J[b] = (W²)ᵀ Var v[b]``. Only the slots that read a differentiated column shift; with
  all columns the rows are those ``qt.jacobian`` runs, bit for bit.
* **Adjoint** (Jones & Gacon, arXiv:2009.02823): exact, one adjoint sweep per sample on the
  ideal local simulator (``grad.adjoint``); no tasks.
* **Finite differences, SPSA**: each sample's plan (``grad.api.plan_jacobian``), all tasks
  of all samples and the value task in one ``executor.run``.

With shots, each sample's Jacobian gets the rows' shots the :class:`ShotPolicy` gives one
gradient (a total budget is per sample); a values-only call measures the unshifted rows with
the shots the unshifted row would get in a gradient, so a value's statistics do not depend
on whether a gradient was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.local import LocalSimulator
from qtrain.backends.protocol import Result, Task, child_seed
from qtrain.errors import AdjointShotsError, ConfigError, UnknownMethodError
from qtrain.exec.executor import Executor
from qtrain.grad import adjoint
from qtrain.grad.api import METHODS, plan_jacobian
from qtrain.grad.result import row_importance
from qtrain.grad.shots import ShotPolicy, allocate, group_spreads
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.passes.param_shift import ShiftedRows, rule_for
from qtrain.passes.slots import SlotProgram, lower

__all__ = ["BatchEvaluator", "BatchResult", "resolve_method"]


@dataclass(frozen=True, eq=False)
class BatchResult:
    """One batched evaluation.

    Attributes:
        values: ``(B, O)`` expectation values.
        stderr: ``(B, O)`` their standard errors; ``None`` when exact.
        jacobian: ``(B, O, K)`` derivatives by the asked columns; ``None`` when none asked.
        jacobian_stderr: ``(B, O, K)`` their standard errors (rows independent); ``None``
            when exact or no Jacobian.
        columns: the ``K`` circuit parameter indices of the Jacobian's last axis.
        shots: shots spent by the call.
        rows: parameter rows evaluated (``B·R`` for parameter shift).
        method: the method that ran (``"best"`` resolved).
        seed: the sampling seed of the call; ``None`` when exact.
    """

    values: NDArray[np.float64]
    stderr: NDArray[np.float64] | None
    jacobian: NDArray[np.float64] | None
    jacobian_stderr: NDArray[np.float64] | None
    columns: tuple[int, ...]
    shots: int
    rows: int
    method: str
    seed: int | None


def resolve_method(method: str, policy: ShotPolicy | None, backend: object) -> str:
    """The method to run: ``"best"`` is adjoint when exact on the ideal local simulator.

    Raises:
        UnknownMethodError: an unknown name, or adjoint off the ideal local simulator.
        AdjointShotsError: adjoint with shots.
    """
    if method not in METHODS:
        raise UnknownMethodError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    ideal = isinstance(backend, LocalSimulator) and backend.is_ideal
    if method == "best":
        return "adjoint" if policy is None and ideal else "param-shift"
    if method == "adjoint" and policy is not None:
        raise AdjointShotsError(
            "method='adjoint' is exact by construction and cannot honour shots; use "
            "method='param-shift' for sampled gradients with error bars"
        )
    if method == "adjoint" and not ideal:
        raise UnknownMethodError(
            f"method='adjoint' needs the ideal local statevector simulator, not "
            f"{getattr(backend, 'name', type(backend).__name__)!r}; use method='param-shift'"
        )
    return method


@dataclass(frozen=True, eq=False)
class _Pattern:
    """Shift pattern of one column set: offsets ``(R, S)``, weights ``(R, K)``, shots."""

    offsets: NDArray[np.float64]
    weights: NDArray[np.float64]
    shots: NDArray[np.int64] | None  # (R, G)


class BatchEvaluator:
    """Batched values and Jacobians of ``circuit`` under ``observables`` on one executor.

    Args:
        circuit: the circuit (``P`` parameters).
        observables: ``O`` observables.
        method: a name of ``qtrain.grad.METHODS`` (``"best"`` resolved here).
        policy: shots per gradient, or ``None`` for exact values.
        executor: where tasks run.
        options: method options (``finite-diff``: ``step``, ``scheme``; ``spsa``: ...).

    Raises:
        ConfigError: a per-component or per-cell shot policy (their sizes belong to one
            optimizer's gradient, not to a layer whose columns change).
        UnknownMethodError, AdjointShotsError: see :func:`resolve_method`.
    """

    def __init__(
        self,
        circuit: Circuit,
        observables: tuple[Observable, ...],
        *,
        method: str,
        policy: ShotPolicy | None,
        executor: Executor,
        options: dict[str, Any],
    ) -> None:
        if policy is not None and (policy.per_component or policy.per_cell):
            raise ConfigError(
                f"QuantumLayer takes shots as an int, ShotPolicy.fixed, .total or .target; "
                f"got {policy!r}"
            )
        self.circuit = circuit
        self.observables = observables
        self.policy = policy
        self.executor = executor
        self.options = options
        self.method = resolve_method(method, policy, executor.backend)
        self.program: SlotProgram = lower(circuit)
        self._patterns: dict[tuple[int, ...], _Pattern] = {}

    def pattern(self, columns: tuple[int, ...]) -> _Pattern:
        """The parameter-shift pattern for ``columns`` (cached): only their slots shift."""
        if columns not in self._patterns:
            program = self.program
            matrix = program.matrix[:, list(columns)]
            acc = ShiftedRows(np.zeros(program.n_slots), len(columns))
            for s in np.flatnonzero(matrix.any(axis=1)) if columns else ():
                for coeff, shift in rule_for(program.slot_gates[s]):
                    acc.add({int(s): shift}, coeff * matrix[s])
            offsets, weights = acc.arrays()
            shots = None
            if self.policy is not None:
                spreads = group_spreads(self.observables)
                shots = allocate(
                    self.policy, row_importance(weights, 0), spreads, gradient_weights=weights
                )
            self._patterns[columns] = _Pattern(offsets, weights, shots)
        return self._patterns[columns]

    def value_shots(self) -> NDArray[np.int64] | None:
        """``(G,)`` shots of an unshifted row: what it gets in the full gradient's plan."""
        if self.policy is None:
            return None
        full = self.pattern(tuple(range(self.circuit.n_params)))
        assert full.shots is not None  # a policy allocates
        first: NDArray[np.int64] = full.shots[0]
        return first

    def evaluate(
        self, theta: NDArray[np.float64], columns: tuple[int, ...], seed: int | None
    ) -> BatchResult:
        """Values ``(B, O)`` at ``theta (B, P)`` and, when ``columns``, their Jacobians."""
        if not columns:
            return self._values(theta, seed)
        if self.method == "param-shift":
            return self._shifted(theta, columns, seed)
        if self.method == "adjoint":
            return self._adjoint(theta, columns)
        return self._planned(theta, columns, seed)

    def _value_task(self, theta: NDArray[np.float64], seed: int | None) -> Task:
        shots = self.value_shots()
        rows = None if shots is None else np.tile(shots, (theta.shape[0], 1))
        return Task(self.circuit, self.observables, theta, rows, seed)

    def _values(self, theta: NDArray[np.float64], seed: int | None) -> BatchResult:
        result = self.executor.run([self._value_task(theta, seed)])[0]
        stderr = None if result.variances is None else np.sqrt(result.variances)
        method = self.method
        return BatchResult(
            result.values, stderr, None, None, (), result.shots, len(theta), method, seed
        )

    def _shifted(
        self, theta: NDArray[np.float64], columns: tuple[int, ...], seed: int | None
    ) -> BatchResult:
        pattern = self.pattern(columns)
        batch, width = theta.shape[0], pattern.offsets.shape[0]
        angles = self.program.angles(theta)  # (B, S)
        rows = (angles[:, None, :] + pattern.offsets[None]).reshape(batch * width, -1)
        shots = None if pattern.shots is None else np.tile(pattern.shots, (batch, 1))
        task = Task(self.program.shift_circuit, self.observables, rows, shots, seed)
        result = self.executor.run([task])[0]
        values = result.values.reshape(batch, width, -1)  # (B, R, O)
        jac = np.einsum("rk,bro->bok", pattern.weights, values)
        stderr = jac_err = None
        if result.variances is not None:
            var = result.variances.reshape(batch, width, -1)
            stderr = np.sqrt(var[:, 0])
            jac_err = np.sqrt(np.einsum("rk,bro->bok", pattern.weights**2, var))
        return BatchResult(
            values[:, 0],
            stderr,
            jac,
            jac_err,
            columns,
            result.shots,
            len(rows),
            "param-shift",
            seed,
        )

    def _adjoint(self, theta: NDArray[np.float64], columns: tuple[int, ...]) -> BatchResult:
        simulator = self.executor.backend
        assert isinstance(simulator, LocalSimulator)  # resolve_method checked
        values, jacs = [], []
        for point in theta:  # one adjoint sweep per sample: O(gates) state passes each
            gradient = adjoint.compute(self.circuit, self.observables, point, simulator)
            values.append(gradient.fun)
            jacs.append(gradient.value[:, list(columns)])
        batch = len(theta)
        return BatchResult(
            np.array(values).reshape(batch, -1),
            None,
            np.array(jacs).reshape(batch, len(self.observables), len(columns)),
            None,
            columns,
            0,
            batch,
            "adjoint",
            None,
        )

    def _planned(
        self, theta: NDArray[np.float64], columns: tuple[int, ...], seed: int | None
    ) -> BatchResult:
        """Finite differences or SPSA: every sample's plan, all run in one executor call."""
        plans = [
            plan_jacobian(
                self.circuit,
                self.observables,
                point,
                method=self.method,
                shots=self.policy,
                seed=None if seed is None else child_seed(seed, b),
                backend=self.executor.backend,
                **self.options,
            )
            for b, point in enumerate(theta)
        ]
        tasks = [self._value_task(theta, seed)] + [t for sample, _ in plans for t in sample]
        results = self.executor.run(tasks)
        value, done = results[0], 1
        jacs: list[NDArray[np.float64]] = []
        errs: list[NDArray[np.float64]] = []
        for sample, assemble in plans:
            gradient = assemble(list[Result](results[done : done + len(sample)]))
            done += len(sample)
            jacs.append(np.asarray(gradient.value)[:, list(columns)])
            if gradient.stderr is not None:
                errs.append(np.asarray(gradient.stderr)[:, list(columns)])
        stderr = None if value.variances is None else np.sqrt(value.variances)
        rows = sum(task.params.shape[0] for task in tasks)
        return BatchResult(
            value.values,
            stderr,
            np.array(jacs),
            np.array(errs) if errs else None,
            columns,
            sum(r.shots for r in results),
            rows,
            self.method,
            seed,
        )
