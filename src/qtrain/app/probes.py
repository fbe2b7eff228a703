"""Short probe runs that measure this machine: the simulator, the executor and the loop.

:func:`measure` returns seconds per unit (the units of ``backends.local_cost`` plus the
executor's, the store's and the training loop's) fitted to probe runs of the very code a run
uses: ``LocalSimulator.run`` on hardware-efficient circuits of 2-14 qubits (statevector,
sampled, density matrix), the adjoint method, the metric tensor, ``Executor.run`` with and
without a result store, and a real ``fit`` of a few steps in a temporary run folder. Each
probe is timed three times and the fastest kept (a busy machine only ever adds time); the
coefficients are fitted by non-negative least squares on relative error, so a 50 µs probe
counts as much as a 50 ms one. The whole measurement takes a second or two after the
warm-up (``app.calibration`` runs it once, in a fresh interpreter, and caches it).

``warmup.fit``: the first step of a fresh process pays for loading the compiled kernels (the
numba cache, ~0.5 s) and first-use caches; it is the first step's excess over a later one.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.local import LocalSimulator
from qtrain.backends.local_cost import adjoint_work, metric_work, seconds
from qtrain.backends.protocol import Task
from qtrain.exec.executor import Executor
from qtrain.exec.store import ResultStore
from qtrain.grad import adjoint
from qtrain.grad.api import metric_tensor
from qtrain.ir.ansatz import hardware_efficient
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable, X, Y, Z
from qtrain.ir.params import P
from qtrain.noise.channels import depolarizing
from qtrain.noise.model import NoiseModel
from qtrain.optim.adam import Adam
from qtrain.passes.slots import lower
from qtrain.train.loop import fit
from qtrain.train.objective import Objective
from qtrain.train.stopping import Budget

__all__ = ["executor_work", "fit_units", "measure", "staged", "time_best"]

Work = dict[str, float]
_RNG = np.random.default_rng(20_260_101)


def time_best(run: Callable[[], object], repeats: int = 3) -> float:
    """The fastest of ``repeats`` timed calls of ``run`` (after none: callers warm up)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def fit_units(samples: Sequence[tuple[Work, float]], units: Sequence[str]) -> dict[str, float]:
    """Non-negative seconds per unit that best explain ``(work, seconds)`` samples.

    Relative least squares (each sample divided by its time), with units whose coefficient
    would be negative dropped one at a time (an active-set NNLS; the probes are designed so
    that every unit is exercised).

    >>> samples = [({"a": 1.0}, 2.0), ({"a": 1.0, "b": 2.0}, 4.0), ({"b": 1.0}, 1.0)]
    >>> {k: round(v, 6) for k, v in fit_units(samples, ["a", "b"]).items()}
    {'a': 2.0, 'b': 1.0}
    """
    matrix = np.array([[w.get(u, 0.0) / t for u in units] for w, t in samples])
    active = list(range(len(units)))
    solution = np.zeros(len(units))
    while active:
        found, *_ = np.linalg.lstsq(matrix[:, active], np.ones(len(samples)), rcond=None)
        if np.all(found >= 0):
            solution[active] = found
            break
        active.pop(int(np.argmin(found)))
    return {unit: float(value) for unit, value in zip(units, solution, strict=True)}


def _observable(n_qubits: int, groups: int) -> Observable:
    """A Pauli sum on ``n_qubits`` measured in ``groups`` (1-3) qubit-wise commuting groups."""
    terms = [Z(q) @ Z(q + 1) for q in range(max(n_qubits - 1, 1))] if n_qubits > 1 else [Z(0)]
    observable = sum(terms[1:], terms[0])
    if groups >= 2:
        observable = observable + sum((0.5 * X(q) for q in range(n_qubits)), 0.5 * X(0))
    if groups >= 3:
        observable = observable + 0.3 * (Y(0) @ Y(1) if n_qubits > 1 else Y(0))
    return observable


def _rows(circuit: Circuit, rows: int) -> NDArray[np.float64]:
    """``rows`` parameter rows: a parameter-shift batch (``rows=0``) or random ones."""
    if rows:
        return _RNG.uniform(-np.pi, np.pi, (rows, circuit.n_params))
    base = _RNG.uniform(-np.pi, np.pi, circuit.n_params)
    shifts = np.concatenate([np.eye(circuit.n_params), -np.eye(circuit.n_params)]) * np.pi / 2
    return np.vstack([base, base + shifts])


def _task(spec: tuple[int, int, int, int], shots: int | None = None) -> Task:
    n, layers, rows, groups = spec
    circuit = hardware_efficient(n, layers)
    seed = None if shots is None else 1
    return Task(circuit, (_observable(n, groups),), _rows(circuit, rows), shots, seed)


def _simulated(simulator: LocalSimulator, tasks: Sequence[Task]) -> list[tuple[Work, float]]:
    samples = []
    for task in tasks:
        simulator.run([task])  # first use: compile the program, build measurement tables
        samples.append((simulator.work(task), time_best(partial(simulator.run, [task]))))
    return samples


def staged(
    small: Sequence[tuple[Work, float]], large: Sequence[tuple[Work, float]], units: Sequence[str]
) -> dict[str, float]:
    """Per-call units (``units[:-1]``) from ``small`` probes, then the work unit from ``large``.

    Probes on a few amplitudes measure the calls alone; the work unit (``units[-1]``) is the
    median of what large probes spend beyond their calls, per unit. Fitting both at once
    lets noise trade one for the other.
    """
    calls = fit_units(small, units[:-1])
    shares = [
        (t - seconds({u: w.get(u, 0.0) for u in units[:-1]}, calls)) / w[units[-1]]
        for w, t in large
        if w.get(units[-1])
    ]
    return {**calls, units[-1]: max(float(np.median(shares)), 0.0) if shares else 0.0}


_SV_SMALL = ((2, 1, 1, 1), (2, 8, 1, 1), (3, 3, 4, 2))
_SV_LARGE = ((12, 2, 16, 2), (14, 1, 8, 1), (10, 3, 32, 1))
_SAMPLED = (
    ((2, 1, 64, 2), 10),
    ((4, 2, 0, 3), 1000),
    ((4, 1, 8, 1), 100_000),
    ((8, 2, 32, 2), 100),
)
_DM_SMALL = ((2, 1, 1, 1), (2, 4, 1, 1), (2, 2, 4, 2))
_DM_LARGE = ((6, 1, 0, 1), (7, 1, 0, 1), (6, 2, 2, 1), (7, 1, 1, 1))


def _simulator_units(simulator: LocalSimulator, kernels: str | None) -> dict[str, float]:
    """Statevector, sampling and density-matrix seconds per unit."""
    small = _simulated(simulator, [_task(s) for s in _SV_SMALL])
    large = _simulated(simulator, [_task(s) for s in _SV_LARGE])
    out = staged(small, large, ["sv.task", "sv.step", "sv.work"])
    sampled = _simulated(simulator, [_task(s, shots) for s, shots in _SAMPLED])
    residual = [(w, max(t - seconds(w, out), 0.2 * t)) for w, t in sampled]
    out.update(fit_units(residual, ["sample.cell", "sample.shot"]))
    noisy = LocalSimulator(kernels=kernels, noise=NoiseModel().after_all(depolarizing(0.01)))
    small = _simulated(noisy, [_task(s) for s in _DM_SMALL])
    large = _simulated(noisy, [_task(s) for s in _DM_LARGE])
    out.update(staged(small, large, ["dm.task", "dm.step", "dm.work"]))
    return out


def _timed_adjoint(n: int, layers: int, count: int, sim: LocalSimulator) -> tuple[Work, float]:
    circuit = hardware_efficient(n, layers)
    obs = tuple(_observable(n, 1 + k) for k in range(count))
    theta = _rows(circuit, 1)[0]
    adjoint.compute(circuit, obs, theta, sim)
    work = adjoint_work(circuit, len(obs), len(lower(circuit).circuit.ops))
    return work, time_best(lambda: adjoint.compute(circuit, obs, theta, sim))


def _timed_metric(n: int, layers: int, approx: str, sim: LocalSimulator) -> tuple[Work, float]:
    circuit = hardware_efficient(n, layers)
    theta = _rows(circuit, 1)[0]
    metric_tensor(circuit, theta, approx=approx, backend=sim)
    program = lower(circuit)
    work = metric_work(circuit, program.matrix.shape[0], len(program.circuit.ops))
    return work, time_best(lambda: metric_tensor(circuit, theta, approx=approx, backend=sim))


def _gradient_units(simulator: LocalSimulator) -> dict[str, float]:
    """The adjoint method's and the metric tensor's seconds per unit."""
    small = [_timed_adjoint(*spec, simulator) for spec in ((1, 1, 1), (2, 8, 1), (2, 2, 2))]
    large = [_timed_adjoint(*spec, simulator) for spec in ((14, 1, 1), (15, 1, 1))]
    out = staged(small, large, ["adjoint.call", "adjoint.op", "adjoint.work"])
    small = [
        _timed_metric(*spec, simulator)
        for spec in ((2, 1, "block-diag"), (2, 3, "block-diag"), (2, 2, "full"))
    ]
    large = [_timed_metric(*spec, simulator) for spec in ((10, 1, "full"), (11, 1, "full"))]
    out.update(staged(small, large, ["metric.call", "metric.op", "metric.work"]))
    return out


def executor_work(
    calls: int,
    chunks: int,
    rows: int,
    *,
    durability: str | None,
    runs: int = 1,
    journaled: bool = False,
) -> Work:
    """Units of ``runs`` calls of ``Executor.run``: backend ``calls`` of ``chunks`` tasks.

    ``durability``: the store's (``None``: no store); ``journaled``: an asynchronous
    backend's job journal commits once more per call.
    """
    work = {
        "exec.run": float(runs),
        "exec.call": float(calls),
        "exec.task": float(chunks),
        "exec.row": float(rows),
    }
    if durability is not None:
        work.update({"store.run": float(runs), "store.row": float(rows)})
        work[f"store.commit_{durability}"] = float(calls * (2 if journaled else 1))
    return work


_EXECUTOR_PROBES = ((1, None, None), (64, None, None), (64, 8, None), (64, 8, 1))


def _executor_units(
    simulator: LocalSimulator, coefficients: Mapping[str, float]
) -> dict[str, float]:
    """The executor's and the store's seconds per unit (the simulator's own time taken off)."""
    circuit = Circuit(1).ry(0, P(0))
    samples: dict[str | None, list[tuple[Work, float]]] = {None: [], "full": [], "normal": []}
    with tempfile.TemporaryDirectory(prefix="qtrain-probe-") as folder:
        for durability in (None, "full", "normal"):
            store = None
            if durability is not None:
                store = ResultStore(Path(folder) / f"{durability}.sqlite", durability=durability)
            for rows, max_rows, per_call in _EXECUTOR_PROBES:
                executor = Executor(
                    simulator, store=store, max_rows=max_rows, tasks_per_call=per_call
                )
                chunks = -(-rows // (max_rows or rows))
                calls = -(-chunks // (per_call or chunks))
                chunk = Task(circuit, (Z(0),), np.zeros((min(rows, max_rows or rows), 1)))
                own = chunks * seconds(simulator.work(chunk), coefficients)

                def run(n: int = rows, ex: Executor = executor) -> None:
                    ex.run([Task(circuit, (Z(0),), _RNG.uniform(-3, 3, (n, 1)))])  # new rows

                run()
                spent = max(time_best(run) - own, 1e-6)
                work = executor_work(calls, chunks, rows, durability=durability)
                samples[durability].append((work, spent))
            if store is not None:
                store.close()
    out = fit_units(samples[None], ["exec.run", "exec.call", "exec.task", "exec.row"])
    for durability in ("full", "normal"):
        residual = [(w, max(t - seconds(w, out), 0.1 * t)) for w, t in samples[durability]]
        units = ["store.run", "store.row", f"store.commit_{durability}"]
        found = fit_units(residual, units)
        out[f"store.commit_{durability}"] = found[f"store.commit_{durability}"]
        if durability == "full":
            out.update({u: found[u] for u in units[:2]})
    return out


LoopStep = Callable[[Mapping[str, float]], float]


def _loop_units(kernels: str | None) -> tuple[dict[str, float], LoopStep]:
    """A real ``fit`` of 16 steps (cold: the first of the process): warm-up and per step.

    Returns the warm-up and a function that, given the other coefficients, leaves the loop's
    own seconds per step (checkpoint, metrics, optimizer, bookkeeping).
    """
    simulator = LocalSimulator(kernels=kernels)
    circuit = hardware_efficient(2, 1)
    objective = Objective.single(circuit, _observable(2, 2))
    theta = np.full(circuit.n_params, 0.2)
    with tempfile.TemporaryDirectory(prefix="qtrain-probe-") as folder:
        result = fit(
            objective,
            theta,
            Adam(learning_rate=0.05),
            method="param-shift",
            shots=100,
            budget=Budget(max_steps=16),
            seed=3,
            backend=simulator,
            run_dir=Path(folder) / "run",
        )
    elapsed = [r.elapsed for r in result.history]
    steps = np.diff(elapsed)
    typical = float(np.percentile(steps, 30))  # a busy machine only ever adds time
    warmup = {"warmup.fit": max(elapsed[0] - typical, 0.0)}
    tasks, _ = objective.plan(theta, method="param-shift", shots=100, seed=3, backend=simulator)
    planning = time_best(
        lambda: objective.plan(theta, method="param-shift", shots=100, seed=3, backend=simulator)
    )
    rows = sum(t.params.shape[0] for t in tasks)

    def loop_step(coefficients: Mapping[str, float]) -> float:
        known = sum(seconds(simulator.work(t), coefficients) for t in tasks)
        work = executor_work(1, len(tasks), rows, durability="full")
        known += seconds(work, coefficients)
        return max(typical - known - planning, 0.1 * typical)

    return warmup, loop_step


def _cold_extras(kernels: str | None) -> dict[str, float]:
    """First-use costs beyond the statevector's: density matrix, adjoint (after the fit)."""
    out = {}
    noisy = LocalSimulator(kernels=kernels, noise=NoiseModel().after_all(depolarizing(0.01)))
    task = _task((3, 1, 2, 2))
    started = time.perf_counter()
    noisy.run([task])
    out["warmup.dm"] = max(time.perf_counter() - started - time_best(lambda: noisy.run([task])), 0)
    simulator = LocalSimulator(kernels=kernels)
    circuit = hardware_efficient(3, 1)
    obs = (_observable(3, 2),)
    theta = _rows(circuit, 1)[0]
    started = time.perf_counter()
    adjoint.compute(circuit, obs, theta, simulator)
    cold = time.perf_counter() - started
    warm = time_best(lambda: adjoint.compute(circuit, obs, theta, simulator))
    out["warmup.adjoint"] = max(cold - warm, 0.0)
    return out


def measure(kernels: str | None = None) -> dict[str, float]:
    """Seconds per unit of this machine, measured now (a fresh process measures warm-up too).

    Keys: the units of ``backends.local_cost``, ``exec.*`` and ``store.*`` (executor calls,
    rows and commits), ``loop.step`` (the training loop's own time per step),
    ``warmup.fit``, ``warmup.dm``, ``warmup.adjoint`` (first-use costs of a process) and
    ``measure.seconds`` (how long this took).
    """
    started = time.perf_counter()
    warmup, loop_step = _loop_units(kernels)  # first: the process is cold only once
    out: dict[str, float] = {**warmup, **_cold_extras(kernels)}
    simulator = LocalSimulator(kernels=kernels)
    out.update(_simulator_units(simulator, kernels))
    out.update(_gradient_units(simulator))
    out.update(_executor_units(simulator, out))
    out["loop.step"] = loop_step(out)
    out["measure.seconds"] = time.perf_counter() - started
    return out
