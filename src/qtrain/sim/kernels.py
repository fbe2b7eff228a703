"""Batched statevector kernels on raw arrays; this module imports nothing from qtrain.

States are C-contiguous ``(B, 2ⁿ)`` complex128 arrays (complex64 in single precision: the
kernels follow the states' dtype, and sums over amplitudes are taken in complex128), one row
per parameter setting, wire 0 the most significant bit of the basis index (PennyLane's and
the textbook's order). Gate matrices come per row, ``(B, d, d)``, or shared, ``(1, d, d)``,
and broadcast over rows.
Nothing here loops over amplitudes in Python: every kernel is a handful of whole-array numpy
operations on a reshaped view (see ``shared/reference/fast-kernels.md`` for the measurements
behind the choices: matmul only when the inner run is long, a/b arithmetic otherwise).
"""

from __future__ import annotations

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
    "permutation_source",
    "weighted_probabilities",
    "wire_view_shape",
    "zero_states",
]

Complex = NDArray[np.complex128]

# Below this inner run length a broadcast matmul over tiny blocks is slower than a/b arithmetic.
_MATMUL_MIN_RUN = 8


def zero_states(rows: int, n_qubits: int) -> Complex:
    """``rows`` copies of ``|0…0⟩`` as a ``(rows, 2ⁿ)`` array."""
    states = np.zeros((rows, 1 << n_qubits), dtype=np.complex128)
    states[:, 0] = 1.0
    return states


def wire_view_shape(rows: int, n_qubits: int, sorted_wires: tuple[int, ...]) -> tuple[int, ...]:
    """Shape that exposes each wire in ``sorted_wires`` as its own axis of length 2.

    The axes between target wires are merged, so a 2-wire view of a 10-qubit state is
    ``(rows, 2^w0, 2, 2^(w1-w0-1), 2, 2^(n-w1-1))``; wire ``w`` sits on axis ``2·i + 2``.
    """
    shape = [rows]
    previous = -1
    for w in sorted_wires:
        shape += [1 << (w - previous - 1), 2]
        previous = w
    shape.append(1 << (n_qubits - previous - 1))
    return tuple(shape)


def apply_one_qubit(states: Complex, mats: Complex, wire: int, n_qubits: int) -> Complex:
    """Apply per-row 2×2 matrices ``(B|1, 2, 2)`` to ``wire``; returns a new ``(B, 2ⁿ)`` array."""
    rows = states.shape[0]
    view = states.reshape(rows, 1 << wire, 2, 1 << (n_qubits - wire - 1))
    if view.shape[3] >= _MATMUL_MIN_RUN:
        product: Complex = np.matmul(mats[:, None], view)
        return product.reshape(states.shape)
    m = mats[:, :, :, None, None]
    a, b = view[:, :, 0, :], view[:, :, 1, :]
    out = np.empty_like(view)
    np.multiply(m[:, 0, 0], a, out=out[:, :, 0, :])
    out[:, :, 0, :] += m[:, 0, 1] * b
    np.multiply(m[:, 1, 0], a, out=out[:, :, 1, :])
    out[:, :, 1, :] += m[:, 1, 1] * b
    return out.reshape(states.shape)


def _diagonal_view(diag: Complex, wires: tuple[int, ...], n_qubits: int) -> Complex:
    """Reshape a ``(B|1, 2^k)`` diagonal so it broadcasts onto ``wire_view_shape``."""
    k = len(wires)
    order = np.argsort(wires)
    tensor = diag.reshape(diag.shape[0], *([2] * k)).transpose(0, *(1 + order))
    shape = [diag.shape[0]]
    for _ in range(k):
        shape += [1, 2]
    shape.append(1)
    return tensor.reshape(shape)


def apply_diagonal(
    states: Complex, diag: Complex, wires: tuple[int, ...], n_qubits: int
) -> Complex:
    """Multiply by a diagonal gate ``(B|1, 2^k)`` on ``wires``, in place; returns ``states``."""
    view = states.reshape(wire_view_shape(states.shape[0], n_qubits, tuple(sorted(wires))))
    view *= _diagonal_view(diag, wires, n_qubits)
    return states


def apply_matrix(states: Complex, mats: Complex, wires: tuple[int, ...], n_qubits: int) -> Complex:
    """Apply ``(B|1, 2^k, 2^k)`` matrices on ``wires`` (gate order); returns a new array."""
    if len(wires) == 1:
        return apply_one_qubit(states, mats, wires[0], n_qubits)
    rows, k = states.shape[0], len(wires)
    sorted_wires = tuple(sorted(wires))
    view = states.reshape(wire_view_shape(rows, n_qubits, sorted_wires))
    axes = [2 * sorted_wires.index(w) + 2 for w in wires]
    moved = np.moveaxis(view, axes, list(range(1, k + 1)))
    moved_shape = moved.shape
    flat = np.ascontiguousarray(moved).reshape(rows, 1 << k, -1)
    result = np.matmul(mats, flat).reshape(moved_shape)
    return np.ascontiguousarray(np.moveaxis(result, list(range(1, k + 1)), axes)).reshape(
        states.shape
    )


def permutation_source(
    perms: list[tuple[Complex, tuple[int, ...]]], n_qubits: int
) -> NDArray[np.int64]:
    """Index map ``src`` with ``new[j] = old[src[j]]`` for a run of permutation gates.

    Each entry is a ``(d, d)`` 0/1 permutation matrix and its wires, in time order. The map is
    found by pushing basis labels through the same kernel as the amplitudes, which is exact:
    labels below 2⁵³ survive multiplication by 0 and 1 unchanged.
    """
    labels = np.arange(1 << n_qubits, dtype=np.float64).astype(np.complex128)[None]
    for matrix, wires in perms:
        labels = apply_matrix(labels, matrix[None], wires, n_qubits)
    source: NDArray[np.int64] = labels.real[0].astype(np.int64)
    return source


def apply_permutation(
    states: Complex, source: NDArray[np.int64], out: Complex | None = None
) -> Complex:
    """Gather amplitudes, ``new[:, j] = old[:, source[j]]``, into ``out`` (or a new array)."""
    return np.take(states, source, axis=1, out=out)


def _wide(values: Complex) -> Complex:
    """``values`` in complex128 (the array itself when it already is): sums stay in double."""
    return values.astype(np.complex128, copy=False)


def adjoint_one_qubit(
    both: Complex, generator: Complex, inverse: Complex, wire: int, n_qubits: int
) -> tuple[Complex, Complex]:
    """One backward step of the adjoint method for a 1-qubit gate.

    ``both`` is ``[ψ; λ₁; …; λ_O]`` after the gate. Returns ``⟨λ_o|G|ψ⟩`` ``(O,)`` and the
    rows with ``U†`` applied.
    """
    moved = apply_one_qubit(both[:1], generator[None], wire, n_qubits)
    inner: Complex = _wide(both[1:]).conj() @ _wide(moved[0])
    return inner, apply_one_qubit(both, inverse[None], wire, n_qubits)


def adjoint_diagonal(
    both: Complex, generator: NDArray[np.float64], inverse: Complex, wire: int, n_qubits: int
) -> tuple[Complex, Complex]:
    """:func:`adjoint_one_qubit` for a diagonal gate (``both`` has ``O ≥ 1`` λ rows).

    ``generator`` is ``diag(G)`` ``(2,)``, real since ``G`` is Hermitian, and ``inverse`` is
    ``diag(U†)`` ``(2,)``. Returns ``⟨λ_o|G|ψ⟩`` ``(O,)`` and the rows moved back, in place.
    """
    if both.shape[0] < 2:
        raise ValueError("an adjoint step needs at least one λ row after ψ")
    view = both.reshape(both.shape[0], 1 << wire, 2, 1 << (n_qubits - wire - 1))
    # ⟨λ|G|ψ⟩ = Σ_b g_b · Σ_{j: bit b} λ̄_j ψ_j: the two half-sums, then two weights.
    halves = np.einsum("oibj,ibj->ob", _wide(view[1:]).conj(), _wide(view[0]))
    inner: Complex = halves @ generator.astype(np.complex128)
    view *= inverse[None, None, :, None]
    return inner, both


def adjoint_real(
    both: Complex, weight: float, inverse: NDArray[np.float64], wire: int, n_qubits: int
) -> tuple[Complex, Complex]:
    """:func:`adjoint_one_qubit` for a gate real at every angle (RY; ``O ≥ 1`` λ rows).

    Such a gate's generator is ``G = weight·Y`` (Hermitian and purely imaginary) and
    ``inverse`` is the real ``U†`` ``(2, 2)``. Returns ``⟨λ_o|G|ψ⟩`` ``(O,)`` and the rows
    moved back (a new array).
    """
    if both.shape[0] < 2:
        raise ValueError("an adjoint step needs at least one λ row after ψ")
    view = both.reshape(both.shape[0], 1 << wire, 2, 1 << (n_qubits - wire - 1))
    # Y|ψ⟩ = (-i·ψ_c, i·ψ_a), so ⟨λ|Y|ψ⟩ = i·Σ (λ̄_c ψ_a - λ̄_a ψ_c).
    lam, psi = _wide(view[1:]).conj(), _wide(view[0])
    cross = np.einsum("oij,ij->o", lam[:, :, 1], psi[:, 0])
    cross -= np.einsum("oij,ij->o", lam[:, :, 0], psi[:, 1])
    inner: Complex = 1j * weight * cross
    matrix = inverse[None].astype(np.result_type(inverse.dtype, np.complex64))  # float32: c64
    return inner, apply_one_qubit(both, matrix, wire, n_qubits)


def apply_cnot(states: Complex, control: int, target: int, n_qubits: int) -> Complex:
    """CNOT on every row; returns a new array."""
    cnot = np.eye(4, dtype=states.dtype)[[0, 1, 3, 2]]
    return apply_matrix(states, cnot[None], (control, target), n_qubits)


def weighted_probabilities(states: Complex, weights: NDArray[np.float64]) -> NDArray[np.float64]:
    """``Σ_j |ψ_bj|² · w_j`` for every row: ``(B,)``."""
    probs = states.real**2 + states.imag**2
    values: NDArray[np.float64] = probs @ weights
    return values
