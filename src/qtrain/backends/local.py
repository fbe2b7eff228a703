"""The embedded batched simulator as a backend: statevector, density matrix, trajectories."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from qtrain.backends.local_cost import DEFAULT_COEFFICIENTS, seconds, task_work
from qtrain.backends.local_run import program_for, run_task
from qtrain.backends.protocol import BackendLimits, Result, Task
from qtrain.errors import ConfigError, QtrainError
from qtrain.ir.circuit import Circuit
from qtrain.noise.model import NoiseModel
from qtrain.sim.methods import MethodChoice, check_method, choose_method, has_channels
from qtrain.sim.precision import check_precision, complex_dtype
from qtrain.sim.statevector import KernelSet, default_memory_budget, select_kernels
from qtrain.sim.trajectories import MIN_TRAJECTORIES, compile_trajectory_program

__all__ = ["LocalSimulator", "MethodChoice", "shared_memory_budget"]

# Bump when the sampled numbers of a given (row, seed, shots) change: old store rows must
# then stop matching (the store key hashes the backend's identity).
_SAMPLING_SCHEME = 2  # 2: inverse-CDF draws (sim.draws.draw_counts), not multinomial
_TRAJECTORY_SCHEME = 1

_SHARE: ContextVar[int | None] = ContextVar("qtrain_memory_budget_share", default=None)


@contextmanager
def shared_memory_budget(nbytes: int) -> Iterator[None]:
    """Inside this block, simulators without an explicit budget use ``nbytes`` instead.

    A Dask worker runs its calls inside one, with its share of the host's memory: the
    simulator was built (and its default budget, half the RAM, taken) in the parent process.
    """
    token = _SHARE.set(nbytes)
    try:
        yield
    finally:
        _SHARE.reset(token)


class LocalSimulator:
    """Exact or sampled expectations on the batched simulator, ideal or noisy.

    Args:
        memory_budget: bytes the simulator may use for states; default half the available
            RAM (or ``$QTRAIN_MEMORY_BUDGET``), or the share of a Dask worker it runs on
            (:func:`shared_memory_budget`). Batches are chunked to fit; a single state
            that does not fit raises ``StateTooLargeError`` before anything is allocated.
        kernels: ``"numba"`` (compiled, ``pip install 'qtrain[fast]'``), ``"numpy"``
            (reference) or ``"auto"``; default ``$QTRAIN_KERNELS`` or ``"auto"``.
        noise: a :class:`~qtrain.noise.NoiseModel` (an empty one counts as ``None``: ideal).
        method: ``"auto"``, ``"statevector"``, ``"density_matrix"`` or ``"trajectories"``
            (``sim.methods``): ``"auto"`` is the statevector without noise channels, else the
            density matrix for exact tasks and ``n ≤ 12``, trajectories for sampled tasks
            beyond. Each result's ``metadata["method"]`` says which ran.
        trajectories: for ``"trajectories"``, how many a (row, group) with ``N`` shots runs:
            ``min(trajectories, N)``, its shots split over them; ``None`` (default): one per
            shot, as Qiskit Aer does, so every shot is an independent sample of the noisy
            state. Fewer trajectories are faster; the error bar then comes from their spread
            (``sim.trajectories``) and is itself noisier.
        precision: ``"double"`` (default, complex128) or ``"single"`` (complex64 states:
            half the memory and bytes moved per gate; ``sim.error_bound`` bounds the error of
            expectations and adjoint gradients). Single precision runs the statevector only
            (ideal gates, readout errors allowed); the metric tensor stays in double.

    Raises:
        SimulationMethodError: an unknown method, or ``"statevector"`` with channels.
        ConfigError: a bad option, or ``precision="single"`` with a noisy method.

    >>> import numpy as np
    >>> import qtrain as qt
    >>> sim = qt.LocalSimulator(memory_budget=1 << 20)
    >>> task = Task(qt.Circuit(1).x(0), (qt.Z(0), qt.X(0)), np.zeros((1, 0)))
    >>> sim.run([task])[0].values
    array([[-1.,  0.]])
    """

    def __init__(
        self,
        memory_budget: int | None = None,
        *,
        kernels: str | None = None,
        noise: NoiseModel | None = None,
        method: str = "auto",
        trajectories: int | None = None,
        precision: str = "double",
    ) -> None:
        if memory_budget is not None and (
            isinstance(memory_budget, bool)
            or not isinstance(memory_budget, int)
            or memory_budget <= 0
        ):
            raise ConfigError(
                f"memory_budget must be a positive int (bytes), got {memory_budget!r}"
            )
        self.memory_budget = memory_budget if memory_budget is not None else default_memory_budget()
        self.budget_is_default = memory_budget is None
        select_kernels(kernels)  # fail now on a bad name, not on a worker later
        self.kernel_name = kernels
        self.noise, self.method, self.trajectories = _checked_noise(noise, method, trajectories)
        self.precision = _checked_precision(precision, self.method, self.noise)

    @property
    def kernels(self) -> KernelSet:
        """The kernel set in use (resolved by name, so the simulator pickles to workers)."""
        return select_kernels(self.kernel_name)

    @property
    def is_ideal(self) -> bool:
        """True for the plain statevector simulator: no noise model, method auto/statevector.

        Only it runs the adjoint method and the exact statevector work of the metric tensor.
        """
        return self.noise is None and self.method in ("auto", "statevector")

    @property
    def name(self) -> str:
        """Backend name recorded in result metadata."""
        if self.is_ideal:
            return "local-statevector"
        return "local-noisy" if self.method == "auto" else f"local-{self.method}"

    @property
    def independent_samples(self) -> int | None:
        """Trajectories behind a group's shots when fewer than the shots (``Backend``)."""
        uses = self.method in ("auto", "trajectories") and has_channels(self.noise)
        return self.trajectories if uses else None

    @property
    def limits(self) -> BackendLimits:
        """No row or shot limit (the batch is chunked to the memory budget internally)."""
        return BackendLimits()

    @property
    def itemsize(self) -> int:
        """Bytes per statevector amplitude: 16 (double) or 8 (single)."""
        return complex_dtype(self.precision).itemsize

    def identity(self) -> dict[str, object]:
        """What changes this simulator's numbers: method, noise, trajectories, sampling scheme.

        The memory budget (chunking) and the kernels (numba and numpy agree to rounding)
        change no result, so they stay out: rows computed under either are shared. The ideal
        statevector simulator's identity is unchanged from before noise existed; single
        precision adds ``"precision": "single"`` (its rows never serve double, nor back).
        """
        identity: dict[str, object]
        if self.is_ideal:
            identity = {"backend": self.name, "method": "statevector", "sampling": _SAMPLING_SCHEME}
        else:
            identity = self._noisy_identity()
        if self.precision != "double":
            identity["precision"] = self.precision
        return identity

    def _noisy_identity(self) -> dict[str, object]:
        identity: dict[str, object] = {
            "backend": self.name,
            "method": self.method,
            "noise": None if self.noise is None else self.noise.fingerprint(),
            "sampling": _SAMPLING_SCHEME,
        }
        if self.method in ("auto", "trajectories"):
            identity["trajectories"] = self.trajectories
            identity["trajectory_scheme"] = _TRAJECTORY_SCHEME
        return identity

    def effective_budget(self) -> int:
        """The budget in force: a worker's share (if any) unless one was given explicitly."""
        share = _SHARE.get() if self.budget_is_default else None
        return self.memory_budget if share is None else share

    def choose(self, circuit: Circuit, exact: bool) -> MethodChoice:
        """The method a task on ``circuit`` runs with, and the memory one row needs.

        Raises:
            SimulationMethodError: the method cannot run it (trajectories for an exact task).
            StateTooLargeError: one row does not fit the memory budget.
        """
        return choose_method(
            self.method,
            circuit.n_qubits,
            self.noise,
            exact=exact,
            budget=self.effective_budget(),
            itemsize=self.itemsize,
        )

    def estimate_seconds(
        self, task: Task, coefficients: Mapping[str, float] | None = None
    ) -> float:
        """Seconds ``run([task])`` takes: :meth:`work` priced by ``coefficients``.

        ``coefficients``: seconds per unit (``backends.local_cost``), this machine's as
        ``qtrain plan`` measures them (``app.calibration``); default rough constants (1.3 ns
        per amplitude update with the numba kernels, 8 ns with numpy).
        """
        if coefficients is None and "fast" not in getattr(self.kernels, "__name__", ""):
            coefficients = {**DEFAULT_COEFFICIENTS, "sv.work": 8e-9, "dm.work": 8e-9}
        return seconds(self.work(task), coefficients)

    def work(self, task: Task) -> dict[str, float]:
        """What ``run([task])`` will do, counted without simulating (``local_cost.task_work``).

        A task this simulator would refuse is counted as a statevector task (``run`` refuses
        it; an estimate need not).
        """
        try:
            method = self.choose(task.circuit, task.shots is None).method
            if method == "trajectories":
                assert self.noise is not None  # choose() picks trajectories only with noise
                program = compile_trajectory_program(task.circuit, self.noise)
            else:
                program = program_for(task.circuit, method, self.noise, self.precision)
        except QtrainError:
            program = program_for(task.circuit, "statevector", None, self.precision)
            method = "statevector"
        return task_work(
            task,
            method=method,
            program=program,
            budget=self.effective_budget(),
            trajectories=self.trajectories,
        )

    def run(self, tasks: Sequence[Task]) -> list[Result]:
        """Run every task (all rows of a task in batched chunks); one result per task.

        Every task is checked (method, memory, the noise model against its circuit) before
        any is simulated.
        """
        choices = []
        for task in tasks:
            choice = self.choose(task.circuit, task.shots is None)
            if self.noise is not None:
                self.noise.for_circuit(task.circuit)  # a wire the circuit lacks: NoiseModelError
            choices.append(choice)
        budget = self.effective_budget()
        return [
            run_task(
                task,
                name=self.name,
                method=choice.method,
                budget=budget,
                kernels=self.kernels,
                noise=self.noise,
                trajectories=self.trajectories,
                precision=self.precision,
            )
            for task, choice in zip(tasks, choices, strict=True)
        ]


def _checked_noise(
    noise: object, method: object, trajectories: object
) -> tuple[NoiseModel | None, str, int | None]:
    if noise is not None and not isinstance(noise, NoiseModel):
        raise ConfigError(f"noise must be a qt.NoiseModel or None, got {type(noise).__name__}")
    model = None if noise is None or noise.is_empty else noise
    method = check_method(method, model)
    if trajectories is not None and method in ("statevector", "density_matrix"):
        raise ConfigError(
            f"trajectories={trajectories!r} means nothing for method={method!r}: set it with "
            "method='trajectories' or 'auto'"
        )
    if trajectories is not None and (
        isinstance(trajectories, bool)
        or not isinstance(trajectories, int)
        or trajectories < MIN_TRAJECTORIES
    ):
        raise ConfigError(
            f"trajectories must be None (one per shot) or an int >= {MIN_TRAJECTORIES} (the "
            f"error bar rests on their spread), got {trajectories!r}"
        )
    return model, method, trajectories


def _checked_precision(precision: object, method: str, noise: NoiseModel | None) -> str:
    """``precision`` when this simulator can run it: single runs the statevector only."""
    chosen = check_precision(precision)
    noisy = method == "density_matrix" or has_channels(noise)
    if chosen == "single" and noisy:
        raise ConfigError(
            "precision='single' supports the statevector and adjoint methods (ideal gates, "
            f"readout errors allowed), not method={method!r} with noise channels; use "
            "precision='double' for noisy simulation"
        )
    return chosen


def simulator_inside(backend: object) -> LocalSimulator | None:
    """The statevector simulator ``backend`` is or wraps (through ``.inner``), else None.

    Exact statevector work (the metric tensor, a run's final exact loss) runs on it under a
    wrapper that injects faults or latency into *tasks* (``FaultyBackend``), honouring its
    memory budget and kernels.
    """
    for _ in range(8):  # wrappers nest a few deep at most; a cycle must not hang
        if isinstance(backend, LocalSimulator):
            return backend
        inner = getattr(backend, "inner", None)
        if inner is None:
            return None
        backend = inner
    return None
