"""The front door: ``qt.grad`` and ``qt.jacobian``.

>>> import numpy as np
>>> import qtrain as qt
>>> c = qt.Circuit(1).rx(0, 2 * qt.P(0))
>>> g = qt.grad(c, qt.Z(0), np.array([0.3]), method="param-shift")
>>> bool(np.isclose(g.value[0], -2 * np.sin(0.6)))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.local import LocalSimulator
from qtrain.backends.protocol import Backend, Result, Task
from qtrain.errors import AdjointShotsError, CircuitError, ParameterShapeError, UnknownMethodError
from qtrain.exec.executor import Executor, resolve_executor
from qtrain.exec.expval import resolve_seed
from qtrain.exec.store import ResultStore
from qtrain.grad import adjoint, finite_diff, param_shift, spsa
from qtrain.grad import hessian as hessian_method
from qtrain.grad import metric_tensor as metric
from qtrain.grad.result import Assemble, Gradient, LinearAssembly
from qtrain.grad.shots import ShotPolicy
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.ir.validate import check_observable_fits, check_shots, check_theta

__all__ = [
    "METHODS",
    "grad",
    "gradient_tasks",
    "hessian",
    "jacobian",
    "metric_tensor",
    "plan_jacobian",
]

METHODS = ("best", "param-shift", "adjoint", "finite-diff", "spsa")


def _policy(shots: int | ShotPolicy | None) -> ShotPolicy | None:
    if shots is None or isinstance(shots, ShotPolicy):
        return shots
    checked = check_shots(shots)
    return None if checked is None else ShotPolicy.fixed(checked)


def _check_inputs(
    circuit: object, observables: Sequence[object], theta: object, method: str
) -> tuple[Circuit, tuple[Observable, ...], NDArray[np.float64]]:
    if not isinstance(circuit, Circuit):
        raise CircuitError(f"expected a qtrain Circuit, got {type(circuit).__name__}")
    if method not in METHODS:
        raise UnknownMethodError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    several = [observables] if isinstance(observables, (Observable, str)) else observables
    checked = tuple(check_observable_fits(circuit, obs) for obs in several)
    rows, batched = check_theta(circuit, theta)
    if batched:
        raise ParameterShapeError(f"a gradient needs theta of shape (P,), got {rows.shape}")
    return circuit, checked, rows[0]


def _plan(
    method: str,
    circuit: Circuit,
    checked: tuple[Observable, ...],
    point: NDArray[np.float64],
    *,
    policy: ShotPolicy | None,
    seed: int | np.random.Generator | None,
    covariance: bool,
    options: dict[str, Any],
) -> tuple[list[Task], Assemble]:
    """Tasks and assembly of a task-based method (param-shift, finite-diff, spsa)."""
    entropy = resolve_seed(seed) if policy is not None or method == "spsa" else None
    if method == "param-shift":
        return param_shift.plan(
            circuit, checked, point, policy=policy, seed=entropy, covariance=covariance
        )
    if method == "finite-diff":
        return finite_diff.plan(
            circuit, checked, point, policy=policy, seed=entropy, covariance=covariance, **options
        )
    rng = np.random.default_rng(entropy)
    return spsa.plan(
        circuit,
        checked,
        point,
        rng=rng,
        policy=policy,
        seed=entropy,
        covariance=covariance,
        **options,
    )


def gradient_tasks(
    circuit: Circuit,
    observables: Sequence[Observable],
    theta: object,
    *,
    method: str = "param-shift",
    shots: int | ShotPolicy | None = None,
    seed: int | np.random.Generator | None = None,
    **options: Any,
) -> list[Task]:
    """The tasks a gradient would run, without running them (for ``qt.dry_run``).

    Raises:
        UnknownMethodError: for ``"adjoint"``/``"best"`` (they run no tasks) or unknown names.
    """
    if method in ("adjoint", "best"):
        raise UnknownMethodError(f"method={method!r} runs no tasks; plan 'param-shift' instead")
    tasks, _ = plan_jacobian(
        circuit, observables, theta, method=method, shots=shots, seed=seed, **options
    )
    return tasks


def _best_reason(method: str, exact: bool, backend: object) -> str:
    """Why ``"best"`` chose ``method`` (recorded in ``Gradient.metadata["reason"]``)."""
    if method == "adjoint":
        return "exact on the ideal local simulator: adjoint"
    if not exact:
        return "shots: param-shift (adjoint cannot sample)"
    if isinstance(backend, LocalSimulator):
        return f"noisy simulator ({backend.name}): param-shift (adjoint needs pure states)"
    return "not the local simulator: param-shift"


def plan_jacobian(
    circuit: Circuit,
    observables: Sequence[Observable],
    theta: object,
    *,
    method: str = "best",
    shots: int | ShotPolicy | None = None,
    seed: int | np.random.Generator | None = None,
    backend: Backend | None = None,
    covariance: bool = False,
    **options: Any,
) -> tuple[list[Task], Assemble]:
    """The tasks of a Jacobian and the function that assembles it, without running anything.

    Every method has this shape (DESIGN §1.2): run the tasks on any executor, then call
    ``assemble(results)``. The adjoint method runs no tasks; its assembly simulates on
    ``backend`` (which must then be a ``LocalSimulator``). Arguments as :func:`jacobian`.
    """
    circuit, checked, point = _check_inputs(circuit, observables, theta, method)
    policy = _policy(shots)
    target = backend if backend is not None else LocalSimulator()
    chosen_by_best = method == "best"
    ideal = isinstance(target, LocalSimulator) and target.is_ideal
    reason = ""
    if chosen_by_best:
        method = "adjoint" if policy is None and ideal else "param-shift"
        reason = _best_reason(method, policy is None, target)
    if method == "adjoint":
        if policy is not None:
            raise AdjointShotsError(
                "method='adjoint' is exact by construction and cannot honour shots; use "
                "method='param-shift' for sampled gradients with error bars"
            )
        if not isinstance(target, LocalSimulator):
            raise UnknownMethodError("method='adjoint' needs the local statevector simulator")
        if not target.is_ideal:
            raise UnknownMethodError(
                f"method='adjoint' differentiates pure states; the simulator is noisy "
                f"({target.name}, method={target.method!r}): use method='param-shift', exact "
                "under noise that does not depend on the gate angles"
            )
        simulator = target
        tasks: list[Task] = []

        def assemble_adjoint(results: list[Result]) -> Gradient:
            return adjoint.compute(circuit, checked, point, simulator)

        assemble: Assemble = assemble_adjoint
    else:
        tasks, assemble = _plan(
            method,
            circuit,
            checked,
            point,
            policy=policy,
            seed=seed,
            covariance=covariance,
            options=options,
        )
    if not chosen_by_best:
        return tasks, assemble
    chosen = {"chosen_by": "best", "reason": reason}
    if isinstance(assemble, LinearAssembly):  # stays inspectable (its rows' weights)
        return tasks, replace(assemble, metadata=chosen)
    inner = assemble

    def assemble_best(results: list[Result]) -> Gradient:
        result = inner(results)
        return replace(result, metadata={**result.metadata, **chosen})

    return tasks, assemble_best


def jacobian(
    circuit: Circuit,
    observables: Sequence[Observable],
    theta: object,
    *,
    method: str = "best",
    shots: int | ShotPolicy | None = None,
    seed: int | np.random.Generator | None = None,
    backend: Backend | None = None,
    executor: Executor | None = None,
    store: ResultStore | None = None,
    covariance: bool = False,
    **options: Any,
) -> Gradient:
    """Jacobian ``(O, P)`` of several expectation values, with standard errors when sampled.

    Args:
        circuit: the circuit.
        observables: ``O`` Hermitian Pauli sums.
        theta: ``(P,)`` parameters.
        method: ``"param-shift"`` (exact shift rules, any shots), ``"adjoint"`` (exact,
            simulator only, no shots), ``"finite-diff"`` (options ``step``, ``scheme``),
            ``"spsa"`` (options ``directions``, ``step``), or ``"best"``: adjoint when exact on
            the local simulator, param-shift otherwise. The result records the choice.
        shots: ``None`` (exact), shots per row and group, or a :class:`ShotPolicy` (e.g. a
            total budget split to minimise the gradient's variance).
        seed: makes sampling (and SPSA directions) reproducible; ``None`` draws fresh
            entropy. Whenever the result is random, ``metadata["seed"]`` holds the int seed it
            used: passing it back reproduces the result exactly.
        backend: where to run (default ``LocalSimulator()``).
        executor: an ``Executor`` (dedup, durable store, retries) instead of ``backend``.
        store: a ``ResultStore`` for the default executor: finished rows are read back
            instead of being run (and paid for) again.
        covariance: also return the covariance of the components.
        **options: method options (see above).

    Raises:
        QtrainError: ``UnknownMethodError``, ``AdjointShotsError``, ``NoShiftRuleError``,
            ``ParameterShapeError`` and the input errors of ``qt.expval``, before anything runs.
    """
    if not isinstance(circuit, Circuit):
        raise CircuitError(f"expected a qtrain Circuit, got {type(circuit).__name__}")
    runner = resolve_executor(backend, executor, store)
    # Resolved here, not in the planner, so the result can say which seed it used.
    entropy = resolve_seed(seed) if shots is not None or method == "spsa" else None
    tasks, assemble = plan_jacobian(
        circuit,
        observables,
        theta,
        method=method,
        shots=shots,
        seed=entropy,
        backend=runner.backend,
        covariance=covariance,
        **options,
    )
    return _with_seed(assemble(runner.run(tasks)), entropy)


def _with_seed(result: Gradient, entropy: int | None) -> Gradient:
    """``result`` with the seed that made it recorded (``metadata["seed"]``), when random."""
    if entropy is None:
        return result
    return replace(result, metadata={**result.metadata, "seed": entropy})


def grad(
    circuit: Circuit,
    observable: Observable,
    theta: object,
    *,
    method: str = "best",
    shots: int | ShotPolicy | None = None,
    seed: int | np.random.Generator | None = None,
    backend: Backend | None = None,
    executor: Executor | None = None,
    store: ResultStore | None = None,
    covariance: bool = False,
    **options: Any,
) -> Gradient:
    """Gradient ``(P,)`` of ``⟨H⟩`` at ``theta``; see :func:`jacobian` for the arguments.

    Returns:
        ``Gradient(value (P,), stderr (P,) | None, n_circuits, shots, method, fun, ...)``.
    """
    result = jacobian(
        circuit,
        [observable],
        theta,
        method=method,
        shots=shots,
        seed=seed,
        backend=backend,
        executor=executor,
        store=store,
        covariance=covariance,
        **options,
    )

    def first(value: Any) -> Any:
        return None if value is None else value[0]

    fun = first(result.fun)
    return replace(
        result,
        value=first(result.value),
        stderr=first(result.stderr),
        fun=None if fun is None else float(fun),
        fun_stderr=first(result.fun_stderr),
        covariance=first(result.covariance),
        fun_covariance=first(result.fun_covariance),
    )


def hessian(
    circuit: Circuit,
    observable: Observable,
    theta: object,
    *,
    shots: int | ShotPolicy | None = None,
    seed: int | np.random.Generator | None = None,
    backend: Backend | None = None,
    executor: Executor | None = None,
    store: ResultStore | None = None,
) -> Gradient:
    """Hessian ``(P, P)`` of ``⟨H⟩`` at ``theta`` by second-order parameter-shift rules.

    Returns a :class:`Gradient` whose ``value`` and ``stderr`` are ``(P, P)``; exact or
    sampled like :func:`grad` (``shots`` per row and group, or a :class:`ShotPolicy`; the
    seed a sampled Hessian used is ``metadata["seed"]``).
    """
    circuit, checked, point = _check_inputs(circuit, [observable], theta, "param-shift")
    policy = _policy(shots)
    entropy = resolve_seed(seed) if policy is not None else None
    runner = resolve_executor(backend, executor, store)
    tasks, assemble = hessian_method.plan(circuit, checked, point, policy=policy, seed=entropy)
    result = _with_seed(assemble(runner.run(tasks)), entropy)
    stderr = None if result.stderr is None else result.stderr[0]
    fun = None if result.fun is None else float(result.fun[0])
    return replace(result, value=result.value[0], stderr=stderr, fun=fun, fun_stderr=None)


def metric_tensor(
    circuit: Circuit,
    theta: object,
    *,
    approx: str = "full",
    backend: Backend | None = None,
) -> NDArray[np.float64]:
    """The metric tensor ``(P, P)`` at ``theta`` (exact, on the local simulator).

    Args:
        circuit: the circuit.
        theta: ``(P,)`` parameters.
        approx: ``"full"`` or ``"block-diag"`` (entries within causal layers only).
        backend: a ``LocalSimulator``, or a wrapper around one (``FaultyBackend``): the
            simulator's memory budget and kernels are used.

    Raises:
        StateTooLargeError: the ``S + 1`` states it keeps exceed the memory budget (before
            any allocation).
        UnknownMethodError: a backend with no local simulator inside.
    """
    if not isinstance(circuit, Circuit):
        raise CircuitError(f"expected a qtrain Circuit, got {type(circuit).__name__}")
    rows, batched = check_theta(circuit, theta)
    if batched:
        raise ParameterShapeError(f"the metric tensor needs theta of shape (P,), got {rows.shape}")
    simulator = LocalSimulator() if backend is None else metric.local_simulator(backend)
    if simulator is None:
        raise UnknownMethodError(
            f"metric_tensor needs the local statevector simulator; the backend is "
            f"{type(backend).__name__} with none inside"
        )
    return metric.compute(circuit, rows[0], simulator, approx)
