"""What a training run minimises: a loss over the expectation values of one or more terms.

An :class:`Objective` pairs circuits with observables (``T`` terms) and combines their values
with a loss (:mod:`qtrain.train.losses`): a VQE is one term with ``loss="expval"``; a
classifier is one circuit per data point with ``loss="mse"`` against targets. Terms that share
a circuit are measured together (one Jacobian with several observables). ``plan`` returns the
tasks of one value-and-gradient evaluation and the function that assembles them into an
:class:`Evaluation`, so the training loop can price a step before it runs it.

Its concerns have rooms of their own: :mod:`~qtrain.train.seeding` (the plan's root seed and
each circuit's child seed), :mod:`~qtrain.train.shot_split` (a shot policy across circuits,
the total-budget split and the target's budget check), :mod:`~qtrain.train.value_rows` (SPSA's
value row and its shots) and :mod:`~qtrain.train.metric_backend` (the metric tensor's checks).

>>> import numpy as np
>>> import qtrain as qt
>>> obj = Objective.single(qt.Circuit(1).ry(0, qt.P(0)), qt.Z(0))
>>> ev = obj.evaluate(np.array([0.3]))
>>> round(ev.loss, 12), round(float(ev.gradient[0]), 12)
(0.955336489126, -0.295520206661)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.local import LocalSimulator
from qtrain.backends.protocol import Backend, Task
from qtrain.errors import ConfigError, ParameterShapeError
from qtrain.exec.executor import Executor, resolve_executor
from qtrain.grad.api import plan_jacobian
from qtrain.grad.shots import ShotPolicy
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.ir.validate import check_observable_fits, check_theta
from qtrain.train.evaluation import Evaluation, EvaluationAssembly, Piece
from qtrain.train.losses import LOSSES, Loss
from qtrain.train.metric_backend import metric_fn
from qtrain.train.seeding import child_seed, root_seed
from qtrain.train.shot_split import (
    as_policy,
    check_target_budget,
    restrict,
    split_total,
    total_to_split,
)
from qtrain.train.smoothness import lipschitz_bound
from qtrain.train.value_rows import value_task

__all__ = ["Evaluation", "Objective"]

Vector = NDArray[np.float64]
Groups = tuple[tuple[Circuit, tuple[int, ...]], ...]


def group_terms(circuits: Sequence[Circuit]) -> Groups:
    """Each distinct circuit (by fingerprint) with the indices of its terms, in first-seen order.

    Terms that share a circuit are measured together: one Jacobian, several observables.
    """
    groups: dict[str, tuple[Circuit, list[int]]] = {}
    for index, circuit in enumerate(circuits):
        groups.setdefault(circuit.fingerprint(), (circuit, []))[1].append(index)
    return tuple((c, tuple(i)) for c, i in groups.values())


@dataclass(frozen=True, eq=False)
class Objective:
    """A loss over ``T`` terms (circuit, observable), all reading one parameter vector.

    Attributes:
        circuits: ``T`` circuits (the same circuit object may repeat); one circuit alone
            is one term.
        observables: ``T`` observables, one per circuit (or one observable alone).
        loss: a :class:`~qtrain.train.losses.Loss` or a built-in name.
        targets: ``(T,)`` targets for losses that need them.
    """

    circuits: tuple[Circuit, ...]
    observables: tuple[Observable, ...]
    loss: Loss | str = "expval"
    targets: Vector | None = None
    _groups: Groups = field(init=False, repr=False)

    def __post_init__(self) -> None:
        circuits = (self.circuits,) if isinstance(self.circuits, Circuit) else self.circuits
        observables = self.observables
        if isinstance(observables, Observable):  # one term: Objective(circuit, observable)
            observables = (observables,)
        circuits, observables = tuple(circuits), tuple(observables)
        if not circuits or len(circuits) != len(observables):
            raise ConfigError(
                f"an objective needs one observable per circuit and at least one term, got "
                f"{len(circuits)} circuit(s) and {len(observables)} observable(s)"
            )
        for circuit in circuits:
            if not isinstance(circuit, Circuit):
                raise ConfigError(f"expected qtrain Circuits, got {type(circuit).__name__}")
        observables = tuple(
            check_observable_fits(c, o) for c, o in zip(circuits, observables, strict=True)
        )
        loss = self.loss if isinstance(self.loss, Loss) else LOSSES.get(str(self.loss))
        if loss is None:
            raise ConfigError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        targets = self._checked_targets(loss, len(circuits))
        if loss.single_term and len(circuits) != 1:
            raise ConfigError(f"loss {loss.name!r} takes one term, got {len(circuits)}")
        object.__setattr__(self, "circuits", circuits)
        object.__setattr__(self, "observables", observables)
        object.__setattr__(self, "loss", loss)
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "_groups", group_terms(circuits))

    def _checked_targets(self, loss: Loss, terms: int) -> Vector | None:
        if self.targets is None:
            if loss.needs_targets:
                raise ConfigError(f"loss {loss.name!r} needs targets, one per term")
            return None
        targets = np.asarray(self.targets, dtype=np.float64).ravel()
        if targets.size != terms or not np.all(np.isfinite(targets)):
            raise ConfigError(f"targets must be {terms} finite numbers, got {self.targets!r}")
        return targets

    @staticmethod
    def single(circuit: Circuit, observable: Observable) -> Objective:
        """The expectation value ``⟨observable⟩`` of one circuit (a VQE)."""
        return Objective((circuit,), (observable,), "expval")

    @staticmethod
    def from_problem(problem: Any) -> Objective:
        """The objective of a built-in problem (``qt.problems``)."""
        return Objective(problem.circuits, problem.observables, problem.loss, problem.targets)

    @property
    def n_params(self) -> int:
        """``P``: parameters read by any term."""
        return max(c.n_params for c in self.circuits)

    @property
    def loss_fn(self) -> Loss:
        """The resolved :class:`Loss`."""
        assert isinstance(self.loss, Loss)  # resolved in __post_init__
        return self.loss

    def fingerprint(self) -> str:
        """A content hash of the circuits, observables, loss and targets."""
        content = {
            "circuits": [c.fingerprint() for c in self.circuits],
            "observables": [o.fingerprint() for o in self.observables],
            "loss": self.loss_fn.name,
            "targets": None if self.targets is None else self.targets.tolist(),
        }
        return hashlib.sha256(json.dumps(content).encode()).hexdigest()

    def lipschitz_bound(self) -> float:
        """``L ≥ sup_θ ‖∇²loss(θ)‖₂``, a Lipschitz constant of the loss gradient (Rosalin's).

        Derived from every slot's generator frequency, the lowering matrix ``M`` and light
        cones, through the loss (:mod:`qtrain.train.smoothness`); ``inf`` for ``bce`` and
        custom losses.

        >>> import qtrain as qt
        >>> c = qt.Circuit(1).rx(0, qt.P(0)).rx(0, qt.P(0)).rx(0, qt.P(0))
        >>> Objective.single(c, qt.Z(0)).lipschitz_bound()  # ⟨Z⟩ = cos 3θ: |E''| ≤ 9
        9.0
        """
        return lipschitz_bound(
            self.loss_fn, self.targets, self.circuits, self.observables, self.n_params
        )

    def check_theta(self, theta: object) -> Vector:
        """``theta`` as a validated ``(P,)`` float array."""
        raw = np.asarray(theta, dtype=np.float64) if theta is not None else None
        if raw is None or raw.ndim != 1 or raw.size != self.n_params:
            shape = None if raw is None else raw.shape
            raise ParameterShapeError(
                f"theta must have shape ({self.n_params},) for this objective, got {shape}"
            )
        for circuit in self.circuits:
            check_theta(circuit, raw[: circuit.n_params])
        return raw

    def plan(
        self,
        theta: object,
        *,
        method: str = "best",
        shots: int | ShotPolicy | None = None,
        seed: int | None = None,
        backend: Backend | None = None,
        metric: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> tuple[list[Task], EvaluationAssembly]:
        """The tasks of one evaluation at ``theta`` and their assembly.

        Args:
            theta: ``(P,)`` parameters.
            method: gradient method (as ``qt.grad``).
            shots: per row and group, a :class:`ShotPolicy`, or ``None`` for exact values.
                Per-row, per-component and target policies apply to every circuit; a total
                (``ShotPolicy.total(B)``) is split over every circuit's rows and groups and
                SPSA's value rows, and spent exactly.
            seed: sampling entropy; each circuit gets an independent child seed (the tasks
                carry them). ``None``: fresh entropy, drawn once if shots or SPSA need it.
            backend: the backend the tasks will run on (decides ``"best"``).
            metric: ``"full"``/``"block-diag"`` to also compute the metric tensor (exact, on
                the local simulator, single-circuit objectives only).
            options: method options (SPSA ``step``/``directions``, finite-diff ``step``).
        """
        point = self.check_theta(theta)
        policy = as_policy(shots)
        seed = root_seed(seed, policy, method)
        plan_piece = partial(
            self._plan_piece, point, method=method, seed=seed, backend=backend, options=options
        )
        pieces = [plan_piece(index, policy) for index in range(len(self._groups))]
        total = total_to_split(policy)
        if total is not None:
            # A total is a total: one split over every circuit's rows and value rows.
            shares = split_total(total, pieces)
            pieces = [plan_piece(i, cells, value) for i, (cells, value) in enumerate(shares)]
        metric_thunk = metric_fn([c for c, _ in self._groups], point, metric, backend)
        assembly = EvaluationAssembly(
            self.loss_fn,
            self.targets,
            len(self.circuits),
            self.n_params,
            tuple(pieces),
            metric_thunk,
            policy,
            seed,
        )
        tasks = assembly.tasks()
        check_target_budget(policy, tasks)
        return tasks, assembly

    def _plan_piece(
        self,
        point: Vector,
        index: int,
        policy: ShotPolicy | None,
        value_shots: NDArray[np.int64] | None = None,
        *,
        method: str,
        seed: int | None,
        backend: Backend | None,
        options: Mapping[str, Any] | None,
    ) -> Piece:
        """The tasks and assembly of circuit ``index``'s terms (see :meth:`plan`)."""
        circuit, terms = self._groups[index]
        n_i = circuit.n_params
        sub_policy, sub_seed = restrict(policy, n_i), child_seed(seed, index)
        observables = tuple(self.observables[t] for t in terms)
        tasks, assemble = plan_jacobian(
            circuit,
            observables,
            point[:n_i],
            method=method,
            shots=sub_policy,
            seed=sub_seed,
            backend=backend,
            **dict(options or {}),
        )
        value = value_task(  # SPSA rows straddle θ; the loss needs θ itself
            method,
            circuit,
            observables,
            point[:n_i],
            policy=sub_policy,
            tasks=tasks,
            shots=value_shots,
            seed=sub_seed,
        )
        return Piece(terms, n_i, tasks, assemble, value)

    def exact_terms(self, theta: object, simulator: Backend | None = None) -> Vector:
        """``(T,)`` exact term values at ``theta`` on the statevector simulator.

        ``simulator`` may be any backend that computes exact values (a ``Mitigated`` one).
        """
        point = self.check_theta(theta)
        target = simulator if simulator is not None else LocalSimulator()
        tasks = [
            Task(
                circuit, tuple(self.observables[t] for t in terms), point[None, : circuit.n_params]
            )
            for circuit, terms in self._groups
        ]
        values = np.zeros(len(self.circuits))
        for (_, terms), result in zip(self._groups, target.run(tasks), strict=True):
            assert result is not None  # exact local values always come back
            values[list(terms)] = result.values[0]
        return values

    def exact_loss(self, theta: object, simulator: Backend | None = None) -> float:
        """The exact loss at ``theta`` on the statevector simulator (no shots, no gradient)."""
        return self.loss_fn.value(self.exact_terms(theta, simulator), self.targets)

    def evaluate(
        self,
        theta: object,
        *,
        method: str = "best",
        shots: int | ShotPolicy | None = None,
        seed: int | None = None,
        executor: Executor | None = None,
        backend: Backend | None = None,
    ) -> Evaluation:
        """Plan, run and assemble one evaluation (see :meth:`plan`)."""
        runner = resolve_executor(backend, executor, None)
        tasks, assemble = self.plan(
            theta, method=method, shots=shots, seed=seed, backend=runner.backend
        )
        return assemble(runner.run(tasks))
