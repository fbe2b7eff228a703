"""Run compiled programs on batches of parameter rows, chunked to a memory budget.

All rows of one call are simulated together, ``(B, 2ⁿ)`` at a time; when ``B`` rows do not fit
the budget they are cut into chunks that do. The size check happens before any allocation, so
a 40-qubit circuit fails in microseconds with the byte count it would have needed.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from functools import lru_cache
from typing import Protocol, cast

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ConfigError, StateTooLargeError
from qtrain.sim import kernels as reference_kernels
from qtrain.sim import superop, threads
from qtrain.sim.program import Program, Step, op_matrices

__all__ = [
    "BYTES_PER_AMPLITUDE",
    "WORKING_COPIES",
    "KernelSet",
    "chunk_rows",
    "default_memory_budget",
    "format_bytes",
    "owned",
    "run_program",
    "run_step",
    "select_kernels",
    "state_chunks",
]

BYTES_PER_AMPLITUDE = 16  # complex128; complex64 (precision="single") takes 8
# A gate kernel holds the input, its output and one temporary; measurement adds a rotated copy.
WORKING_COPIES = 4
_ENV_BUDGET = "QTRAIN_MEMORY_BUDGET"
_ENV_KERNELS = "QTRAIN_KERNELS"
_KERNEL_MODULES = {"numpy": "qtrain.sim.kernels", "numba": "qtrain.sim.fast_kernels"}

Complex = NDArray[np.complex128]


class KernelSet(Protocol):
    """The kernel functions a simulation needs (``sim.kernels`` and ``sim.fast_kernels``).

    Kernels may work in place: callers pass arrays they own and use the returned array.
    """

    def apply_one_qubit(self, states: Complex, mats: Complex, wire: int, n_qubits: int) -> Complex:
        """Per-row 2×2 matrices on one wire."""
        ...

    def apply_diagonal(
        self, states: Complex, diag: Complex, wires: tuple[int, ...], n_qubits: int
    ) -> Complex:
        """A diagonal gate."""
        ...

    def apply_matrix(
        self, states: Complex, mats: Complex, wires: tuple[int, ...], n_qubits: int
    ) -> Complex:
        """A dense gate on any wires."""
        ...

    def apply_permutation(
        self, states: Complex, source: NDArray[np.int64], out: Complex | None = None
    ) -> Complex:
        """A gather of amplitudes into ``out`` (a new array when ``None``)."""
        ...

    def apply_cnot(self, states: Complex, control: int, target: int, n_qubits: int) -> Complex:
        """A CNOT (in place where the kernels can)."""
        ...

    def adjoint_one_qubit(
        self, both: Complex, generator: Complex, inverse: Complex, wire: int, n_qubits: int
    ) -> tuple[Complex, Complex]:
        """``⟨λ_o|G|ψ⟩`` and ``U†`` applied to ``[ψ; λ…]``, for a 1-qubit gate."""
        ...

    def adjoint_diagonal(
        self,
        both: Complex,
        generator: NDArray[np.float64],
        inverse: Complex,
        wire: int,
        n_qubits: int,
    ) -> tuple[Complex, Complex]:
        """``adjoint_one_qubit`` for a diagonal gate: ``diag(G)`` and ``diag(U†)``."""
        ...

    def adjoint_real(
        self, both: Complex, weight: float, inverse: NDArray[np.float64], wire: int, n_qubits: int
    ) -> tuple[Complex, Complex]:
        """``adjoint_one_qubit`` for a gate real at every angle: ``G = weight·Y``, real ``U†``."""
        ...

    def weighted_probabilities(
        self, states: Complex, weights: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """``Σ_j |ψ_bj|² w_j`` per row."""
        ...


@lru_cache(maxsize=4)
def select_kernels(name: str | None = None) -> KernelSet:
    """The kernel set by name: ``"numba"`` (compiled), ``"numpy"`` (reference) or ``"auto"``.

    ``None`` reads ``$QTRAIN_KERNELS`` (default ``"auto"``: numba when installed, else numpy).

    Raises:
        ConfigError: an unknown name, ``"numba"`` without numba installed, or a bad
            ``$QTRAIN_NUM_THREADS``.
    """
    choice = (name or os.environ.get(_ENV_KERNELS) or "auto").lower()
    threads.requested()  # a bad $QTRAIN_NUM_THREADS is an error, not a reason to fall back
    if choice == "auto":
        try:
            return select_kernels("numba")
        except ConfigError:
            return select_kernels("numpy")
    if choice not in _KERNEL_MODULES:
        raise ConfigError(f"kernels must be 'auto', 'numba' or 'numpy', got {choice!r}")
    try:
        module = importlib.import_module(_KERNEL_MODULES[choice])
    except ImportError as exc:
        raise ConfigError(
            f"kernels={choice!r} needs numba: pip install 'qtrain[fast]' ({exc})"
        ) from None
    threads.apply()  # the compiled kernels get the thread setting when they load
    return cast(KernelSet, module)


def _available_memory() -> int:
    """Bytes of RAM available now (Linux ``MemAvailable``), else half of physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 4 << 30  # no way to ask: assume a small machine


def default_memory_budget() -> int:
    """The budget in bytes: ``$QTRAIN_MEMORY_BUDGET`` if set, else half the available RAM."""
    raw = os.environ.get(_ENV_BUDGET)
    if raw is None:
        return _available_memory() // 2
    try:
        value = int(float(raw))
    except ValueError:
        raise ConfigError(f"{_ENV_BUDGET} must be a byte count, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{_ENV_BUDGET} must be positive, got {raw!r}")
    return value


def format_bytes(count: int) -> str:
    """``count`` bytes for people: ``"16.0 MiB"``."""
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def chunk_rows(
    n_qubits: int, rows: int, memory_budget: int, itemsize: int = BYTES_PER_AMPLITUDE
) -> int:
    """Rows per chunk that fit ``memory_budget`` bytes (at least 1, at most ``rows``).

    ``itemsize``: bytes per amplitude (16 for complex128, 8 for complex64).

    Raises:
        StateTooLargeError: when even one state does not fit, naming the bytes it needs.
    """
    per_row = itemsize * WORKING_COPIES << n_qubits
    if per_row > memory_budget:
        raise StateTooLargeError(
            f"a {n_qubits}-qubit state needs {per_row} bytes ({format_bytes(per_row)}: "
            f"2^{n_qubits} amplitudes × {itemsize} B × {WORKING_COPIES} working "
            f"copies) but the memory budget is {memory_budget} bytes "
            f"({format_bytes(memory_budget)}); use fewer qubits or raise memory_budget "
            f"(or ${_ENV_BUDGET})"
        )
    return max(1, min(rows, memory_budget // per_row))


def owned(result: Complex, states: Complex) -> Complex:
    """The array a kernel call left the state in: ``states`` (in place) or its new result."""
    return result if result is states else np.ascontiguousarray(result)


def run_step(
    states: Complex, step: Step, theta: NDArray[np.float64], n_qubits: int, kernels: KernelSet
) -> Complex:
    """One gate (or density-matrix) step on ``states``; may work in place or return a new array.

    The step's matrices are multiplied in complex128 and rounded once to the states' dtype.
    """
    if step.kind == "permutation":
        assert step.source is not None  # set for every permutation step by the compiler
        return kernels.apply_permutation(states, step.source)
    if step.items:
        return superop.run_step(states, step, theta, n_qubits, kernels)
    mats = op_matrices(step.ops[0], theta)
    for op in step.ops[1:]:
        mats = np.matmul(op_matrices(op, theta), mats)  # later gates multiply from the left
    mats = mats.astype(states.dtype, copy=False)  # the same array in double precision
    if step.kind == "diagonal":
        diag = np.ascontiguousarray(np.diagonal(mats, axis1=1, axis2=2))
        return kernels.apply_diagonal(states, diag, step.wires, n_qubits)
    return kernels.apply_matrix(states, mats, step.wires, n_qubits)


def divergence(program: Program, theta: NDArray[np.float64]) -> NDArray[np.int64]:
    """For each row, the first step where its parameters differ from row 0's.

    Row 0 is the base (0); a row equal to it gets ``len(steps)``.
    """
    steps = len(program.steps)
    if theta.shape[1] == 0:
        first = np.full(theta.shape[0], steps, dtype=np.int64)
    else:
        differs = theta != theta[0]
        first = np.where(differs, program.first_step[None, :], steps).min(axis=1)
    first[0] = 0
    return first


def run_sorted(
    program: Program, theta: NDArray[np.float64], kernels: KernelSet | None = None
) -> tuple[NDArray[np.int64], Complex]:
    """Simulate all rows, sharing the prefix each row has in common with row 0.

    Rows are sorted by :func:`divergence`; row ``r`` joins the batch as a copy of row 0's
    state just before its first differing step, so the steps before it run once for all
    such rows (a parameter-shift batch does about half the work; fast-kernels.md measured
    1.8–2× for this "prefix sharing"). All rows still run together in every later step.

    Returns:
        ``(order (B,), states (B, 2ⁿ))``: ``states[i]`` is the state of row ``order[i]``.
    """
    chosen = kernels if kernels is not None else select_kernels()
    starts = divergence(program, theta)
    order = np.argsort(starts, kind="stable")  # row 0 stays first
    starts, rows = starts[order], theta[order]
    states = np.empty((rows.shape[0], 1 << program.n_qubits), dtype=program.dtype)
    count = int(np.searchsorted(starts, 0, side="right"))
    states[:count] = reference_kernels.zero_states(1, program.n_qubits)
    spare: Complex | None = None  # gathers write here and swap, instead of allocating
    for k, step in enumerate(program.steps):
        joining = int(np.searchsorted(starts, k, side="right"))
        states[count:joining] = states[0]
        count = joining
        active = states[:count]
        if step.kind == "permutation":
            assert step.source is not None  # set for every permutation step by the compiler
            if spare is None:
                spare = np.empty_like(states)
            chosen.apply_permutation(active, step.source, spare[:count])
            states, spare = spare, states
        else:
            result = run_step(active, step, rows[:count], program.n_qubits, chosen)
            if result is not active:  # the numpy kernels return new arrays
                active[...] = result
    states[count:] = states[0]  # rows equal to row 0
    return order, states


def run_program(
    program: Program, theta: NDArray[np.float64], kernels: KernelSet | None = None
) -> Complex:
    """Simulate all rows of ``theta (B, P)`` from ``|0…0⟩``: states ``(B, 2ⁿ)`` in row order.

    The caller is responsible for the memory budget (see :func:`state_chunks`).
    """
    order, states = run_sorted(program, theta, kernels)
    if np.array_equal(order, np.arange(order.size)):
        return states
    unsorted = np.empty_like(states)
    unsorted[order] = states
    return unsorted


def state_chunks(
    program: Program,
    theta: NDArray[np.float64],
    memory_budget: int,
    kernels: KernelSet | None = None,
) -> Iterator[tuple[NDArray[np.int64], Complex]]:
    """Yield ``(row indices, states)`` chunks of the batch, each within ``memory_budget``.

    Rows are grouped by where they diverge from row 0, and every chunk carries a copy of
    row 0 as its shared prefix (dropped from the output when the chunk does not own it).
    """
    total = theta.shape[0]
    size = chunk_rows(program.n_qubits, total, memory_budget, program.dtype.itemsize)
    if size >= total:
        yield run_sorted(program, theta, kernels)
        return
    ranked = np.argsort(divergence(program, theta), kind="stable")  # ranked[0] == 0
    per = max(1, size - 1)  # leave room for the copy of row 0
    for start in range(0, total, per):
        ids = ranked[start : start + per]
        with_base = size > 1 and ids[0] != 0
        block = np.concatenate([[0], ids]) if with_base else ids
        order, states = run_sorted(program, theta[block], kernels)
        if with_base:  # the copy of row 0 sorts first; another chunk owns it
            yield block[order[1:]], states[1:]
        else:
            yield block[order], states
