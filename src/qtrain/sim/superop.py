"""Superoperators of density-matrix steps: gates and channels on the doubled register.

A density matrix ``ρ (2ⁿ, 2ⁿ)`` is simulated as the vector ``vec(ρ)[i·2ⁿ + j] = ρ[i, j]`` of a
``2n``-wire register: wire ``w`` of the row index is wire ``w`` of the register, wire ``w`` of
the column index is wire ``n + w``. Then ``UρU†`` is ``U`` on wires ``W`` and ``conj(U)`` on
``n + W``, and a channel ``Σ_i K_i ρ K_i†`` is the ``4^k × 4^k`` superoperator
``S = Σ_i K_i ⊗ conj(K_i)`` on the ``2k`` wires ``(W, n + W)`` (index ``(a, a')``: ``a`` the row
bits, ``a'`` the column bits; Wood, Biamonte & Cory, QIC 15, 759 (2015), "column stacking"
transposed to our row-major order). So the statevector kernels run a density matrix
unchanged, and a run of gates and channels on the same wires multiplies into one ``S``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, cast

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.circuit import Op
from qtrain.noise.channels import Channel
from qtrain.sim.program import op_matrices

if TYPE_CHECKING:
    from qtrain.sim.program import Step
    from qtrain.sim.statevector import KernelSet

__all__ = [
    "Item",
    "PlacedChannel",
    "apply_step",
    "apply_superop",
    "embed",
    "run_step",
    "sparsity",
    "step_matrices",
    "superop_matrices",
]

Complex = NDArray[np.complex128]
PlacedChannel = tuple[Channel, tuple[int, ...]]
"""A channel with the (physical) wires it acts on."""
Item = Op | PlacedChannel
"""What a density-matrix step is made of, in time order."""

# Entries below this fraction of a step's largest are rounding (cos(π/2) ≈ 6e-17), not structure.
_STRUCTURAL_ZERO = 1e-15


def embed(mats: Complex, positions: Sequence[int], k: int) -> Complex:
    """``(B, 2^m, 2^m)`` matrices on ``positions`` of ``k`` wires → ``(B, 2^k, 2^k)``.

    The identity acts on the other wires. ``positions[i]`` is the index, among the ``k`` wires
    (first = most significant), of the matrix's ``i``-th wire.
    """
    m = len(positions)
    if m == k and list(positions) == list(range(k)):
        return mats
    rows = mats.shape[0]
    rest = [p for p in range(k) if p not in positions]
    full = np.einsum(
        "bij,kl->bikjl", mats.reshape(rows, 1 << m, 1 << m), np.eye(1 << (k - m))
    )  # axes: b, (positions out), (rest out), (positions in), (rest in)
    order = [*positions, *rest]
    tensor = full.reshape(rows, *([2] * (2 * k)))
    inverse = np.argsort(order)
    axes = [0, *(1 + inverse), *(1 + k + inverse)]
    return np.ascontiguousarray(tensor.transpose(axes).reshape(rows, 1 << k, 1 << k))


def _kron_conj(mats: Complex) -> Complex:
    """``U ⊗ conj(U)`` per row: ``(B, d, d)`` → ``(B, d², d²)``."""
    rows, d = mats.shape[0], mats.shape[1]
    product: Complex = mats[:, :, None, :, None] * mats.conj()[:, None, :, None, :]
    return product.reshape(rows, d * d, d * d)


@lru_cache(maxsize=1024)
def _channel_superop(channel: Channel, positions: tuple[int, ...], k: int) -> Complex:
    """``Σ_i K_i ⊗ conj(K_i)`` of ``channel`` embedded at ``positions``: ``(1, 4^k, 4^k)``.

    Cached (channels are immutable values); the result is read-only.
    """
    ops = embed(channel.kraus_ops, positions, k)
    summed: Complex = np.einsum("bij,bkl->ikjl", ops, ops.conj()).reshape(1, 1 << 2 * k, 1 << 2 * k)
    summed.setflags(write=False)
    return summed


def superop_matrices(
    wires: tuple[int, ...], items: Sequence[Item], theta: NDArray[np.float64]
) -> Complex:
    """The superoperator of ``items`` (in time order) on physical ``wires``: ``(B|1, 4^k, 4^k)``.

    Each op contributes ``U ⊗ conj(U)`` (per parameter row when it has parameters), each
    channel ``Σ K ⊗ conj(K)``; later items multiply from the left.
    """
    if not any(isinstance(item, Op) and item.param_indices for item in items):
        return _constant_superop(wires, tuple(items))
    return _superop(wires, items, theta)


@lru_cache(maxsize=1024)
def _constant_superop(wires: tuple[int, ...], items: tuple[Item, ...]) -> Complex:
    """:func:`superop_matrices` of items without parameters (cached, read-only): ``(1, D, D)``."""
    mats = _superop(wires, items, np.zeros((1, 0)))
    mats.setflags(write=False)
    return mats


def _superop(wires: tuple[int, ...], items: Sequence[Item], theta: NDArray[np.float64]) -> Complex:
    k = len(wires)
    where = {w: i for i, w in enumerate(wires)}
    total: Complex | None = None
    for item in items:
        if isinstance(item, Op):
            positions = [where[w] for w in item.wires]
            step = _kron_conj(embed(op_matrices(item, theta), positions, k))
        else:
            channel, on = item
            step = _channel_superop(channel, tuple(where[w] for w in on), k)
        total = step if total is None else np.matmul(step, total)
    assert total is not None  # a step has at least one item
    return total


def sparsity(mats: Complex) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``(rows, cols)`` of the entries non-zero in any row of ``mats (B, D, D)``."""
    size = np.abs(mats).max(axis=0)
    rows, cols = np.nonzero(size > _STRUCTURAL_ZERO * max(float(size.max()), 1.0))
    return rows.astype(np.int64), cols.astype(np.int64)


def apply_superop(
    states: Complex, mats: Complex, wires: tuple[int, ...], n_qubits: int, kernels: KernelSet
) -> Complex:
    """Apply superoperators ``(B|1, D, D)`` on doubled ``wires`` of a ``n_qubits`` register.

    With the compiled kernels, only the non-zero entries are multiplied (one pass, ``nnz``
    multiply-adds per ``D`` amplitudes); the numpy kernels apply the dense matrix.
    """
    if "fast" in getattr(kernels, "__name__", ""):
        # numba is installed (the compiled set was chosen): the sparse kernel exists
        fast_superop = importlib.import_module("qtrain.sim.fast_superop")
        pattern = None if len(wires) == 2 else sparsity(mats)  # a 4 × 4 runs dense
        applied: Complex = fast_superop.apply_sparse(states, mats, pattern, wires, n_qubits)
        return applied
    return kernels.apply_matrix(states, mats, wires, n_qubits)


def run_step(
    states: Complex, step: Step, theta: NDArray[np.float64], n_qubits: int, kernels: KernelSet
) -> Complex:
    """Run one density-matrix step (``step.items`` set) on ``states (B, 4ⁿ)``.

    ``n_qubits`` is the doubled register's size ``2n``; a ``"diagonal"`` step (phases only:
    diagonal gates without channels) multiplies by the superoperator's diagonal.
    """
    return apply_step(states, step, step_matrices(step, theta), n_qubits, kernels)


def step_matrices(step: Step, theta: NDArray[np.float64]) -> Complex:
    """A density-matrix step's superoperator ``(B|1, 4^k, 4^k)`` at parameter rows ``theta``."""
    physical = step.wires[: len(step.wires) // 2]
    return superop_matrices(physical, cast("Sequence[Item]", step.items), theta)


def apply_step(
    states: Complex, step: Step, mats: Complex, n_qubits: int, kernels: KernelSet
) -> Complex:
    """Apply a step's superoperator ``mats`` (:func:`step_matrices`); a diagonal one by phases."""
    if step.kind == "diagonal":
        diag = np.ascontiguousarray(np.diagonal(mats, axis1=1, axis2=2))
        return kernels.apply_diagonal(states, diag, step.wires, n_qubits)
    return apply_superop(states, mats, step.wires, n_qubits, kernels)
