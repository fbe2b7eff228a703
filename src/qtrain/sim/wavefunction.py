"""``qt.state``, ``qt.probabilities``, ``qt.sample``: the ideal simulator's state and outcomes.

Basis states are numbered with wire 0 the most significant bit, as everywhere in qtrain: in a
2-qubit circuit index 1 is ``|01⟩`` (wire 1 set) and a bit string's first character is wire 0.
These run the noiseless statevector simulator directly (a noisy state is a density matrix:
use a ``LocalSimulator(noise=...)`` through ``qt.expval``). The memory budget is checked
before anything is allocated, as by ``LocalSimulator``.

>>> import numpy as np
>>> import qtrain as qt
>>> bell = qt.Circuit(2).h(0).cnot(0, 1)
>>> np.round(qt.probabilities(bell), 3)
array([0.5, 0. , 0. , 0.5])
>>> qt.sample(bell, shots=1000, seed=7)
{'00': 480, '11': 520}
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import (
    CircuitError,
    ConfigError,
    ParameterValueError,
    ShotsError,
    StateTooLargeError,
)
from qtrain.ir.circuit import Circuit
from qtrain.ir.validate import check_shots, check_theta
from qtrain.sim.draws import draw_counts
from qtrain.sim.program import compile_program
from qtrain.sim.statevector import chunk_rows, default_memory_budget, format_bytes, state_chunks

__all__ = ["probabilities", "sample", "state"]


def _budget(memory_budget: int | None) -> int:
    if memory_budget is None:
        return default_memory_budget()
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, int) or memory_budget <= 0:
        raise ConfigError(f"memory_budget must be a positive int (bytes), got {memory_budget!r}")
    return memory_budget


def _checked(
    circuit: object, theta: object, memory_budget: int | None, out_bytes: int
) -> tuple[Circuit, NDArray[np.float64], bool, int]:
    """``(circuit, rows (B, P), batched, budget)``; refuses what does not fit, before work.

    Raises:
        StateTooLargeError: one state, or the ``(B, 2ⁿ)`` result of ``out_bytes`` per
            amplitude, does not fit the memory budget.
    """
    if not isinstance(circuit, Circuit):
        raise CircuitError(f"expected a qt.Circuit, got {type(circuit).__name__}")
    rows, batched = check_theta(circuit, theta)
    budget = _budget(memory_budget)
    chunk_rows(circuit.n_qubits, rows.shape[0], budget)  # raises for one state too large
    needed = rows.shape[0] * out_bytes << circuit.n_qubits
    if needed > budget:
        raise StateTooLargeError(
            f"the result ({rows.shape[0]} row(s) × 2^{circuit.n_qubits} amplitudes) needs "
            f"{needed} bytes ({format_bytes(needed)}) but the memory budget is {budget} bytes "
            f"({format_bytes(budget)}); use fewer rows or qubits, or raise memory_budget"
        )
    return circuit, rows, batched, budget


def _states(
    circuit: Circuit, rows: NDArray[np.float64], budget: int
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.complex128]]]:
    """``(row indices, states (b, 2ⁿ))`` chunks within the budget."""
    yield from state_chunks(compile_program(circuit), rows, budget)


def state(
    circuit: Circuit, theta: object = None, *, memory_budget: int | None = None
) -> NDArray[np.complex128]:
    """The statevector ``U(θ)|0…0⟩``.

    Args:
        circuit: the circuit.
        theta: ``(P,)`` parameters, or ``(B, P)`` rows; ``None`` for a circuit without any.
        memory_budget: bytes for the simulation and the result (default: as
            ``LocalSimulator``: ``$QTRAIN_MEMORY_BUDGET`` or half the available RAM).

    Returns:
        ``(2ⁿ,)`` complex128 amplitudes (``(B, 2ⁿ)`` for rows), wire 0 the most significant
        bit of the index.

    Raises:
        ParameterShapeError, ParameterValueError: bad ``theta``.
        StateTooLargeError: the states do not fit the budget (before anything is allocated).
    """
    circuit, rows, batched, budget = _checked(circuit, theta, memory_budget, 16)
    out = np.empty((rows.shape[0], 1 << circuit.n_qubits), dtype=np.complex128)
    for ids, states in _states(circuit, rows, budget):
        out[ids] = states
    return out if batched else out[0]


def probabilities(
    circuit: Circuit, theta: object = None, *, memory_budget: int | None = None
) -> NDArray[np.float64]:
    """The probability of each basis state, ``|⟨b|U(θ)|0…0⟩|²``.

    Args:
        circuit: the circuit.
        theta: ``(P,)`` parameters, or ``(B, P)`` rows; ``None`` for a circuit without any.
        memory_budget: as :func:`state`.

    Returns:
        ``(2ⁿ,)`` float64 summing to 1 (``(B, 2ⁿ)`` for rows); index ``b`` is the bit
        string of ``b`` with wire 0 the most significant bit.

    Raises:
        ParameterShapeError, ParameterValueError, StateTooLargeError: as :func:`state`.
    """
    circuit, rows, batched, budget = _checked(circuit, theta, memory_budget, 8)
    out = np.empty((rows.shape[0], 1 << circuit.n_qubits), dtype=np.float64)
    for ids, states in _states(circuit, rows, budget):
        out[ids] = states.real**2 + states.imag**2
    return out if batched else out[0]


def _generators(seed: object, rows: int) -> list[np.random.Generator]:
    """One independent generator per row, from ``seed`` (int, Generator or ``None``)."""
    if isinstance(seed, np.random.Generator):
        return seed.spawn(rows)
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0
    ):
        raise ParameterValueError(f"seed must be a non-negative int or a Generator, got {seed!r}")
    sequence = np.random.SeedSequence(None if seed is None else int(seed))
    return [np.random.default_rng(child) for child in sequence.spawn(rows)]


def sample(
    circuit: Circuit,
    theta: object = None,
    *,
    shots: int,
    seed: int | np.random.Generator | None = None,
    memory_budget: int | None = None,
) -> dict[str, int] | list[dict[str, int]]:
    """Measure every wire ``shots`` times in the computational basis.

    Args:
        circuit: the circuit.
        theta: ``(P,)`` parameters, or ``(B, P)`` rows; ``None`` for a circuit without any.
        shots: measurements per row, a positive int.
        seed: makes the counts reproducible (same seed, same counts); row ``i`` of a batch
            draws from its own stream, so a batch's row 0 equals the same θ sampled alone.
            ``None`` draws fresh entropy.
        memory_budget: as :func:`state`.

    Returns:
        Counts ``{bit string: count}`` of the outcomes seen, in bit-string order, wire 0 the
        first character (a list of them, one per row, for ``(B, P)``). The counts sum to
        ``shots``.

    Raises:
        ShotsError: ``shots`` is not a positive int.
        ParameterShapeError, ParameterValueError, StateTooLargeError: as :func:`state`.
    """
    if shots is None:
        raise ShotsError("sample needs shots, a positive int; got None")
    count = check_shots(shots)
    assert count is not None  # None was refused above
    circuit, rows, batched, budget = _checked(circuit, theta, memory_budget, 0)
    generators = _generators(seed, rows.shape[0])
    n = circuit.n_qubits
    counts: list[dict[str, int]] = [{} for _ in range(rows.shape[0])]
    for ids, states in _states(circuit, rows, budget):
        for index, amplitudes in zip(ids.tolist(), states, strict=True):
            drawn = draw_counts(generators[index], count, np.abs(amplitudes) ** 2)
            counts[index] = {format(int(b), f"0{n}b"): int(drawn[b]) for b in np.flatnonzero(drawn)}
    return counts if batched else counts[0]
