"""Compiled (numba) versions of the statevector kernels; imports nothing from qtrain.

Same functions and signatures as :mod:`qtrain.sim.kernels`, which stays the reference: the
tests run both on the same inputs. These work in place where the maths allows (a 2×2 update
reads a pair of amplitudes and writes the same pair), so a gate costs one pass over the state
and no temporaries; ``shared/reference/fast-kernels.md`` measured 3–16× per gate over numpy
broadcasting on 2 cores. Each kernel splits the batch into ``rows × parts`` tasks, so one
large state and many small states parallelise alike. Pair indices follow qibojit: pair ``r``
of a row is ``(i₁, i₁ + 2^s)`` with ``i₁`` = ``r`` with a zero bit inserted at ``s = n-1-wire``.

Every kernel exists twice, serial and parallel: below 2^14 amplitudes per call (2^19 for
calls on fewer than 8 rows) the serial one runs, because starting OpenMP threads costs more
than the work and spin-waiting threads collapse when another process holds the cores
(fast-kernels.md, "thread oversubscription").
The kernels are jitted lazily, once per argument types: complex64 states (single precision)
get their own machine code; sums over amplitudes (``_weighted``, the adjoint inner products)
accumulate in float64 / complex128 whatever the states' dtype.
Install with ``pip install 'qtrain[fast]'``; ``QTRAIN_KERNELS=numpy`` turns it off.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import FunctionType
from typing import Any

# GNU OpenMP's default active spin-wait made every parallel region cost ~8 ms instead of
# ~0.13 ms on a 2-vCPU VM (the spinning thread waits for a descheduled vCPU); passive waiting
# is set before numba starts its OpenMP threads, unless the user chose a policy.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba as nb
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "adjoint_diagonal",
    "adjoint_one_qubit",
    "adjoint_real",
    "apply_cnot",
    "apply_diagonal",
    "apply_matrix",
    "apply_one_qubit",
    "apply_permutation",
    "compile_versions",
    "pick",
    "weighted_probabilities",
]

Complex = NDArray[np.complex128]
PARALLEL_MIN_AMPLITUDES = 1 << 14
# A call on fewer than 8 rows (one state, or the adjoint's [ψ; λ]) goes parallel only from
# 2^19 amplitudes in all. Below that a second thread per kernel cost more than it gave on the
# 2-vCPU VM, and much more while another process held the other core (a parallel region then
# waits for a descheduled thread): qt.expval at (16,8) took 18.8 ms serial against 26.0 ms,
# at (18,4) 38.9 against 49.6 ms; 2 rows at n = 16 gained little or lost (gather 0.22 against
# 0.20 ms, 2×2 pass 0.18 against 0.25 ms). From n = 19 two threads were even or ahead (expval
# (19,2) 30 against 36 ms, (20,2) 69 against 108 ms). bench/results/history.md has the runs.
FEW_ROWS = 8
FEW_ROWS_PARALLEL_MIN_AMPLITUDES = 1 << 19
NUM_THREADS: Callable[[], int] = nb.get_num_threads  # qtrain.sim.threads replaces it: the knob


def _one_qubit(states, mats, shift, parts):  # type: ignore[no-untyped-def]  # numba-typed
    rows, dim = states.shape
    half = dim >> 1
    stride = 1 << shift
    low = stride - 1
    shared = mats.shape[0] == 1
    for task in nb.prange(rows * parts):
        b = task // parts
        p = task - b * parts
        k = 0 if shared else b
        m00, m01, m10, m11 = mats[k, 0, 0], mats[k, 0, 1], mats[k, 1, 0], mats[k, 1, 1]
        for r in range(p * half // parts, (p + 1) * half // parts):
            i1 = ((r >> shift) << (shift + 1)) | (r & low)
            i2 = i1 | stride
            a = states[b, i1]
            c = states[b, i2]
            states[b, i1] = m00 * a + m01 * c
            states[b, i2] = m10 * a + m11 * c


def _diagonal(states, diag, shifts, parts):  # type: ignore[no-untyped-def]  # numba-typed
    rows, dim = states.shape
    k = shifts.shape[0]
    shared = diag.shape[0] == 1
    for task in nb.prange(rows * parts):
        b = task // parts
        p = task - b * parts
        row = 0 if shared else b
        for i in range(p * dim // parts, (p + 1) * dim // parts):
            local = 0
            for t in range(k):
                local = (local << 1) | ((i >> shifts[t]) & 1)
            states[b, i] *= diag[row, local]


def _dense(states, mats, offsets, sorted_shifts, parts):  # type: ignore[no-untyped-def]  # numba-typed
    rows, dim = states.shape
    d = offsets.shape[0]
    groups = dim // d
    shared = mats.shape[0] == 1
    for task in nb.prange(rows * parts):
        b = task // parts
        p = task - b * parts
        m = 0 if shared else b
        local = np.empty(d, dtype=np.complex128)  # once per task, not per group
        for g in range(p * groups // parts, (p + 1) * groups // parts):
            base = g
            for s in sorted_shifts:
                base = ((base >> s) << (s + 1)) | (base & ((1 << s) - 1))
            for j in range(d):
                local[j] = states[b, base | offsets[j]]
            for i in range(d):
                acc = 0j
                for j in range(d):
                    acc += mats[m, i, j] * local[j]
                states[b, base | offsets[i]] = acc


def _gather(states, source, out, parts):  # type: ignore[no-untyped-def]  # numba-typed
    rows, dim = states.shape
    for task in nb.prange(rows * parts):
        b = task // parts
        p = task - b * parts
        for j in range(p * dim // parts, (p + 1) * dim // parts):
            out[b, j] = states[b, source[j]]


def _adjoint_step(both, gen, inv, shift, partial):  # type: ignore[no-untyped-def]  # numba-typed
    rows, dim = both.shape
    parts = partial.shape[1]
    half = dim >> 1
    stride = 1 << shift
    low = stride - 1
    for p in nb.prange(parts):
        acc = np.zeros(rows - 1, dtype=np.complex128)
        for r in range(p * half // parts, (p + 1) * half // parts):
            i1 = ((r >> shift) << (shift + 1)) | (r & low)
            i2 = i1 | stride
            a, c = both[0, i1], both[0, i2]
            ga = gen[0, 0] * a + gen[0, 1] * c
            gc = gen[1, 0] * a + gen[1, 1] * c
            both[0, i1] = inv[0, 0] * a + inv[0, 1] * c
            both[0, i2] = inv[1, 0] * a + inv[1, 1] * c
            for o in range(1, rows):
                la, lc = both[o, i1], both[o, i2]
                acc[o - 1] += la.conjugate() * ga + lc.conjugate() * gc
                both[o, i1] = inv[0, 0] * la + inv[0, 1] * lc
                both[o, i2] = inv[1, 0] * la + inv[1, 1] * lc
        for o in range(rows - 1):
            partial[o, p] = acc[o]


def _adjoint_diag(both, gen, inv, shift, partial):  # type: ignore[no-untyped-def]  # numba-typed
    # Diagonal G and U†: two phases per pair instead of 2×2 products. Spelled out in real
    # arithmetic (numba's complex products are slower), and ψ is read with every λ row but
    # moved back in the last one's pass: one observable costs one read and write per state.
    rows, dim = both.shape
    parts = partial.shape[1]
    half, stride = dim >> 1, 1 << shift
    ar, ai, br, bi = inv[0].real, inv[0].imag, inv[1].real, inv[1].imag
    for p in nb.prange(parts):
        for o in range(1, rows):
            last = o == rows - 1
            s0r, s0i, s1r, s1i = 0.0, 0.0, 0.0, 0.0
            for r in range(p * half // parts, (p + 1) * half // parts):
                j = ((r >> shift) << (shift + 1)) | (r & (stride - 1))
                k = j + stride
                la, lc, a, c = both[o, j], both[o, k], both[0, j], both[0, k]
                s0r += la.real * a.real + la.imag * a.imag
                s0i += la.real * a.imag - la.imag * a.real
                s1r += lc.real * c.real + lc.imag * c.imag
                s1i += lc.real * c.imag - lc.imag * c.real
                both[o, j] = complex(ar * la.real - ai * la.imag, ar * la.imag + ai * la.real)
                both[o, k] = complex(br * lc.real - bi * lc.imag, br * lc.imag + bi * lc.real)
                if last:
                    both[0, j] = complex(ar * a.real - ai * a.imag, ar * a.imag + ai * a.real)
                    both[0, k] = complex(br * c.real - bi * c.imag, br * c.imag + bi * c.real)
            partial[o - 1, p] = complex(gen[0] * s0r + gen[1] * s1r, gen[0] * s0i + gen[1] * s1i)


def _adjoint_real(both, weight, inv, shift, partial):  # type: ignore[no-untyped-def]  # numba-typed
    # U† real, G = weight·Y: ⟨λ|G|ψ⟩ = i·weight·Σ (λ̄_c ψ_a - λ̄_a ψ_c) and real×complex
    # updates, in real arithmetic; ψ moves back in the last λ row's pass (see _adjoint_diag).
    rows, dim = both.shape
    parts = partial.shape[1]
    half, stride = dim >> 1, 1 << shift
    m00, m01, m10, m11 = inv[0, 0], inv[0, 1], inv[1, 0], inv[1, 1]
    for p in nb.prange(parts):
        for o in range(1, rows):
            last = o == rows - 1
            sr, si = 0.0, 0.0
            for r in range(p * half // parts, (p + 1) * half // parts):
                j = ((r >> shift) << (shift + 1)) | (r & (stride - 1))
                k = j + stride
                la, lc, a, c = both[o, j], both[o, k], both[0, j], both[0, k]
                sr += lc.real * a.real + lc.imag * a.imag - la.real * c.real - la.imag * c.imag
                si += lc.real * a.imag - lc.imag * a.real - la.real * c.imag + la.imag * c.real
                both[o, j] = complex(m00 * la.real + m01 * lc.real, m00 * la.imag + m01 * lc.imag)
                both[o, k] = complex(m10 * la.real + m11 * lc.real, m10 * la.imag + m11 * lc.imag)
                if last:
                    both[0, j] = complex(m00 * a.real + m01 * c.real, m00 * a.imag + m01 * c.imag)
                    both[0, k] = complex(m10 * a.real + m11 * c.real, m10 * a.imag + m11 * c.imag)
            partial[o - 1, p] = complex(-weight * si, weight * sr)  # i·weight·(sr + i·si)


def _cnot(states, cshift, tshift, parts):  # type: ignore[no-untyped-def]  # numba-typed
    rows, dim = states.shape
    quarter = dim >> 2
    low, high = min(cshift, tshift), max(cshift, tshift)
    cbit, tbit = 1 << cshift, 1 << tshift
    for task in nb.prange(rows * parts):
        b = task // parts
        p = task - b * parts
        for g in range(p * quarter // parts, (p + 1) * quarter // parts):
            i = ((g >> low) << (low + 1)) | (g & ((1 << low) - 1))
            i = ((i >> high) << (high + 1)) | (i & ((1 << high) - 1))
            i |= cbit
            j = i | tbit
            tmp = states[b, i]
            states[b, i] = states[b, j]
            states[b, j] = tmp


def _weighted(states, weights, out):  # type: ignore[no-untyped-def]  # numba-typed
    rows, dim = states.shape
    for b in nb.prange(rows):
        total = 0.0
        for i in range(dim):
            v = states[b, i]
            total += (v.real * v.real + v.imag * v.imag) * weights[i]
        out[b] = total


def compile_versions(kernel: Callable[..., None]) -> tuple[Any, Any]:
    """Serial and parallel compiled versions of one kernel.

    Each gets its own ``__qualname__`` because numba's on-disk cache is keyed by name and
    signature, not by the ``parallel`` flag: two versions under one name would overwrite
    each other's cached machine code.
    """
    versions = []
    for mode, parallel in (("serial", False), ("parallel", True)):
        assert isinstance(kernel, FunctionType)  # plain Python functions, cloned by code
        clone = FunctionType(kernel.__code__, kernel.__globals__, f"{kernel.__name__}_{mode}")
        clone.__qualname__ = clone.__name__
        versions.append(nb.njit(parallel=parallel, cache=True)(clone))
    return versions[0], versions[1]


_KERNELS = {
    f.__name__: compile_versions(f)
    for f in (
        _one_qubit,
        _diagonal,
        _dense,
        _gather,
        _adjoint_step,
        _adjoint_diag,
        _adjoint_real,
        _cnot,
        _weighted,
    )
}


def _pick(name: str, rows: int, dim: int) -> tuple[Any, int]:
    return pick(_KERNELS[name], rows, dim)


def pick(versions: tuple[Any, Any], rows: int, dim: int) -> tuple[Any, int]:
    """The version (of :func:`compile_versions`) for a call, and how many pieces per row."""
    serial, parallel = versions
    threshold = FEW_ROWS_PARALLEL_MIN_AMPLITUDES if rows < FEW_ROWS else PARALLEL_MIN_AMPLITUDES
    if rows * dim < threshold:
        return serial, 1
    threads = NUM_THREADS()
    return parallel, max(1, min(dim >> 10, -(-4 * threads // rows)))


def _shifts(wires: tuple[int, ...], n_qubits: int) -> NDArray[np.int64]:
    return np.array([n_qubits - 1 - w for w in wires], dtype=np.int64)


def apply_one_qubit(states: Complex, mats: Complex, wire: int, n_qubits: int) -> Complex:
    """Apply per-row 2×2 matrices ``(B|1, 2, 2)`` to ``wire``, in place; returns ``states``."""
    kernel, parts = _pick("_one_qubit", *states.shape)
    kernel(states, np.ascontiguousarray(mats), n_qubits - 1 - wire, parts)
    return states


def apply_diagonal(
    states: Complex, diag: Complex, wires: tuple[int, ...], n_qubits: int
) -> Complex:
    """Multiply by a diagonal gate ``(B|1, 2^k)`` on ``wires``, in place; returns ``states``."""
    if len(wires) == 1:  # the pair kernel avoids the per-amplitude bit gathering
        mats = np.zeros((diag.shape[0], 2, 2), dtype=diag.dtype)
        mats[:, 0, 0], mats[:, 1, 1] = diag[:, 0], diag[:, 1]
        return apply_one_qubit(states, mats, wires[0], n_qubits)
    kernel, parts = _pick("_diagonal", *states.shape)
    kernel(states, np.ascontiguousarray(diag), _shifts(wires, n_qubits), parts)
    return states


def apply_matrix(states: Complex, mats: Complex, wires: tuple[int, ...], n_qubits: int) -> Complex:
    """Apply ``(B|1, 2^k, 2^k)`` matrices on ``wires`` (gate order), in place."""
    if len(wires) == 1:
        return apply_one_qubit(states, mats, wires[0], n_qubits)
    shifts = _shifts(wires, n_qubits)
    k = len(wires)
    # offsets[j]: the basis bits that gate-local index j sets (first wire = most significant).
    bits = (np.arange(1 << k)[:, None] >> np.arange(k - 1, -1, -1)[None, :]) & 1
    offsets = (bits << shifts[None, :]).sum(axis=1).astype(np.int64)
    kernel, parts = _pick("_dense", *states.shape)
    kernel(states, np.ascontiguousarray(mats), offsets, np.sort(shifts), parts)
    return states


def apply_permutation(
    states: Complex, source: NDArray[np.int64], out: Complex | None = None
) -> Complex:
    """Gather amplitudes, ``new[:, j] = old[:, source[j]]``, into ``out`` (or a new array)."""
    if out is None:
        out = np.empty_like(states)
    kernel, parts = _pick("_gather", *states.shape)
    kernel(states, source, out, parts)
    return out


def adjoint_one_qubit(
    both: Complex, generator: Complex, inverse: Complex, wire: int, n_qubits: int
) -> tuple[Complex, Complex]:
    """One backward step of the adjoint method for a 1-qubit gate, in one pass.

    ``both`` is ``[ψ; λ₁; …; λ_O]`` after the gate. Returns ``⟨λ_o|G|ψ⟩`` ``(O,)`` and
    ``both`` with ``U†`` applied to every row (in place).
    """
    kernel, parts = _pick("_adjoint_step", 1, both.shape[1])
    partial = np.empty((both.shape[0] - 1, parts), dtype=np.complex128)  # one sum per task
    kernel(
        both,
        np.ascontiguousarray(generator),
        np.ascontiguousarray(inverse),
        n_qubits - 1 - wire,
        partial,
    )
    inner: Complex = partial.sum(axis=1)
    return inner, both


def _adjoint_special(
    name: str, both: Complex, operands: tuple[Any, NDArray[Any]], wire: int, n_qubits: int
) -> tuple[Complex, Complex]:
    if both.shape[0] < 2:
        raise ValueError("an adjoint step needs at least one λ row after ψ")
    kernel, parts = _pick(name, 1, both.shape[1])  # rows move together: one state's size
    partial = np.empty((both.shape[0] - 1, parts), dtype=np.complex128)  # one sum per task
    kernel(both, *operands, n_qubits - 1 - wire, partial)
    inner: Complex = partial.sum(axis=1)
    return inner, both


def adjoint_diagonal(
    both: Complex, generator: NDArray[np.float64], inverse: Complex, wire: int, n_qubits: int
) -> tuple[Complex, Complex]:
    """:func:`adjoint_one_qubit` for a diagonal gate, in place (``both`` has ``O ≥ 1`` λ rows).

    ``generator`` is ``diag(G)`` ``(2,)``, real since ``G`` is Hermitian, and ``inverse`` is
    ``diag(U†)`` ``(2,)``. Returns ``⟨λ_o|G|ψ⟩`` ``(O,)`` and ``both``.
    """
    return _adjoint_special("_adjoint_diag", both, (generator, inverse), wire, n_qubits)


def adjoint_real(
    both: Complex, weight: float, inverse: NDArray[np.float64], wire: int, n_qubits: int
) -> tuple[Complex, Complex]:
    """:func:`adjoint_one_qubit` for a gate real at every angle (RY), in place (``O ≥ 1``).

    Such a gate's generator is ``G = weight·Y`` (Hermitian and purely imaginary) and
    ``inverse`` is the real ``U†`` ``(2, 2)``. Returns ``⟨λ_o|G|ψ⟩`` ``(O,)`` and ``both``.
    """
    return _adjoint_special("_adjoint_real", both, (weight, inverse), wire, n_qubits)


def apply_cnot(states: Complex, control: int, target: int, n_qubits: int) -> Complex:
    """CNOT in place: swap the target pairs where the control is set, not a full gather."""
    kernel, parts = _pick("_cnot", *states.shape)
    kernel(states, n_qubits - 1 - control, n_qubits - 1 - target, parts)
    return states


def weighted_probabilities(states: Complex, weights: NDArray[np.float64]) -> NDArray[np.float64]:
    """``Σ_j |ψ_bj|² · w_j`` for every row: ``(B,)``, without forming the probabilities."""
    out = np.empty(states.shape[0])
    kernel, _ = _pick("_weighted", *states.shape)
    kernel(states, weights, out)
    return out
