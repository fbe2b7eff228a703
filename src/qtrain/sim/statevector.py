"""Run compiled programs on batches of parameter rows, chunked to a memory budget.

All rows of one call are simulated together, ``(B, 2ⁿ)`` at a time; when ``B`` rows do not fit
the budget they are cut into chunks that do. The size check happens before any allocation, so
a 40-qubit circuit fails in microseconds with the byte count it would have needed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ConfigError, StateTooLargeError
from qtrain.sim import kernels
from qtrain.sim.program import Program, Step, op_matrices

__all__ = [
    "BYTES_PER_AMPLITUDE",
    "WORKING_COPIES",
    "chunk_rows",
    "default_memory_budget",
    "run_program",
    "state_chunks",
]

BYTES_PER_AMPLITUDE = 16  # complex128
# A gate kernel holds the input, its output and one temporary; measurement adds a rotated copy.
WORKING_COPIES = 4
_ENV_BUDGET = "QTRAIN_MEMORY_BUDGET"


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


def _format_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def chunk_rows(n_qubits: int, rows: int, memory_budget: int) -> int:
    """Rows per chunk that fit ``memory_budget`` bytes (at least 1, at most ``rows``).

    Raises:
        StateTooLargeError: when even one state does not fit, naming the bytes it needs.
    """
    per_row = BYTES_PER_AMPLITUDE * WORKING_COPIES << n_qubits
    if per_row > memory_budget:
        raise StateTooLargeError(
            f"a {n_qubits}-qubit state needs {per_row} bytes ({_format_bytes(per_row)}: "
            f"2^{n_qubits} amplitudes × {BYTES_PER_AMPLITUDE} B × {WORKING_COPIES} working "
            f"copies) but the memory budget is {memory_budget} bytes "
            f"({_format_bytes(memory_budget)}); use fewer qubits or raise memory_budget "
            f"(or ${_ENV_BUDGET})"
        )
    return max(1, min(rows, memory_budget // per_row))


def _run_step(
    states: NDArray[np.complex128], step: Step, theta: NDArray[np.float64], n_qubits: int
) -> NDArray[np.complex128]:
    if step.kind == "permutation":
        assert step.source is not None  # set for every permutation step by the compiler
        return kernels.apply_permutation(states, step.source)
    mats = op_matrices(step.ops[0], theta)
    for op in step.ops[1:]:
        mats = np.matmul(op_matrices(op, theta), mats)  # later gates multiply from the left
    if step.kind == "diagonal":
        diag = np.ascontiguousarray(np.diagonal(mats, axis1=1, axis2=2))
        return kernels.apply_diagonal(states, diag, step.wires, n_qubits)
    return kernels.apply_matrix(states, mats, step.wires, n_qubits)


def run_program(program: Program, theta: NDArray[np.float64]) -> NDArray[np.complex128]:
    """Simulate all rows of ``theta (B, P)`` at once from ``|0…0⟩``: states ``(B, 2ⁿ)``.

    The caller is responsible for the memory budget (see :func:`state_chunks`).
    """
    states = kernels.zero_states(theta.shape[0], program.n_qubits)
    for step in program.steps:
        states = _run_step(states, step, theta, program.n_qubits)
    return states


def state_chunks(
    program: Program, theta: NDArray[np.float64], memory_budget: int
) -> Iterator[tuple[slice, NDArray[np.complex128]]]:
    """Yield ``(row slice, states)`` chunks of the batch, each within ``memory_budget``."""
    rows = theta.shape[0]
    step = chunk_rows(program.n_qubits, rows, memory_budget)
    for start in range(0, rows, step):
        block = slice(start, min(rows, start + step))
        yield block, run_program(program, theta[block])
