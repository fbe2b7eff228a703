"""Batched gate-matrix builders used by the gate registry.

Each builder maps angles ``(B, n_params)`` to matrices ``(B, d, d)`` (or ``(1, d, d)`` for a
fixed gate, broadcast by the caller). Wire order inside a gate is most-significant first: the
first wire a gate names is the high bit of its local index, as in Qiskit's textbook matrices
and PennyLane (e.g. CNOT's control is the first wire).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

CMatrix = NDArray[np.complex128]
MatrixFn = Callable[[NDArray[np.float64]], CMatrix]

PAULI: dict[str, CMatrix] = {
    "I": np.eye(2, dtype=np.complex128),
    "X": np.array([[0, 1], [1, 0]], dtype=np.complex128),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=np.complex128),
    "Z": np.array([[1, 0], [0, -1]], dtype=np.complex128),
}


def pauli_word_matrix(word: str) -> CMatrix:
    """Dense matrix of a Pauli word like ``"XZY"`` (first letter = most significant wire)."""
    matrix: CMatrix = np.eye(1, dtype=np.complex128)
    for letter in word:
        matrix = np.kron(matrix, PAULI[letter]).astype(np.complex128)
    return matrix


def fixed(matrix: CMatrix) -> MatrixFn:
    """A builder that ignores its angles and returns ``matrix`` as ``(1, d, d)``."""
    frozen = np.array(matrix, dtype=np.complex128)[None]
    frozen.setflags(write=False)

    def build(angles: NDArray[np.float64]) -> CMatrix:
        del angles  # a fixed gate has no angles
        return frozen

    return build


def pauli_rotation(pauli: CMatrix) -> MatrixFn:
    """``exp(-iθ/2·P) = cos(θ/2)·I - i·sin(θ/2)·P`` for a Pauli word matrix ``P``."""
    identity = np.eye(pauli.shape[0], dtype=np.complex128)

    def build(angles: NDArray[np.float64]) -> CMatrix:
        half = angles[:, 0, None, None] / 2.0
        out: CMatrix = np.cos(half) * identity - 1j * np.sin(half) * pauli
        return out

    return build


def phase_on(mask: tuple[bool, ...]) -> MatrixFn:
    """Diagonal gate with ``exp(iθ)`` on the basis states where ``mask`` is true, 1 elsewhere."""
    selected = np.array(mask, dtype=bool)

    def build(angles: NDArray[np.float64]) -> CMatrix:
        diag = np.ones((angles.shape[0], selected.size), dtype=np.complex128)
        diag[:, selected] = np.exp(1j * angles[:, 0])[:, None]
        out: CMatrix = diag[:, :, None] * np.eye(selected.size)
        return out

    return build


def controlled(inner: MatrixFn, inner_dim: int) -> MatrixFn:
    """One control wire (the first) on top of ``inner``: ``|0⟩⟨0|⊗I + |1⟩⟨1|⊗U``."""

    def build(angles: NDArray[np.float64]) -> CMatrix:
        block = inner(angles)
        out = np.zeros((block.shape[0], 2 * inner_dim, 2 * inner_dim), dtype=np.complex128)
        out[:, :inner_dim, :inner_dim] = np.eye(inner_dim)
        out[:, inner_dim:, inner_dim:] = block
        return out

    return build


def u3(angles: NDArray[np.float64]) -> CMatrix:
    """``U3(θ, φ, λ) = [[cos θ/2, -e^{iλ} sin θ/2], [e^{iφ} sin θ/2, e^{i(φ+λ)} cos θ/2]]``.

    This equals ``PhaseShift(φ)·RY(θ)·PhaseShift(λ)`` exactly (no global phase), which is the
    decomposition the gradient engine uses.
    """
    theta, phi, lam = angles[:, 0], angles[:, 1], angles[:, 2]
    c, s = np.cos(theta / 2.0), np.sin(theta / 2.0)
    out = np.empty((angles.shape[0], 2, 2), dtype=np.complex128)
    out[:, 0, 0] = c
    out[:, 0, 1] = -np.exp(1j * lam) * s
    out[:, 1, 0] = np.exp(1j * phi) * s
    out[:, 1, 1] = np.exp(1j * (phi + lam)) * c
    return out


def permutation_matrix(images: tuple[int, ...]) -> CMatrix:
    """Matrix sending basis state ``j`` to ``images[j]``."""
    dim = len(images)
    out = np.zeros((dim, dim), dtype=np.complex128)
    out[list(images), list(range(dim))] = 1.0
    return out


def diagonal(*entries: complex) -> CMatrix:
    """A diagonal matrix with the given entries."""
    return np.diag(np.array(entries, dtype=np.complex128))


SQRT_X = 0.5 * np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]], dtype=np.complex128)
HADAMARD = np.array([[1, 1], [1, -1]], dtype=np.complex128) / np.sqrt(2.0)
ISWAP = np.array([[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]], dtype=np.complex128)
