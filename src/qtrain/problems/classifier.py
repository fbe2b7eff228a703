"""A data re-uploading classifier: one circuit per data point, a loss over all of them.

Pérez-Salinas, Cervera-Lierta, Gil-Fuster and Latorre, "Data re-uploading for a universal
quantum classifier", Quantum 4, 226 (2020). Each layer applies, on every qubit ``q``,

    RY(b₃) · RZ(w₂·x₂ + b₂) · RY(w₁·x₁ + b₁)

with trainable weights ``w`` and biases ``b`` of that layer and qubit: the data point
``x = (x₁, x₂)`` enters as the constant *scales* of affine parameter expressions, so every
circuit has the same parameters and the gradient engine's tied-parameter rule (angles
``θ @ Mᵀ + b``) differentiates it exactly. With several qubits, CNOTs ``(n−1 → n−2), …, (1 → 0)``
follow every layer, so ``Z₀`` after the last one reads the parity of all qubits. (RY first
and last, not Pérez-Salinas' ``RZ·RY·RZ``, and the CNOTs after the last layer too: otherwise
an RZ on ``|0⟩``, an RZ just before the measurement or another qubit's last rotations would
leave their parameters without effect.)
The prediction is ``⟨Z₀⟩ ∈ [−1, 1]``, trained by mean squared error against labels ±1 and
scored by its sign.

>>> points, labels = circle_dataset(4, seed=0)
>>> points.shape, sorted(set(labels.tolist())) <= [-1, 1]
((4, 2), True)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ConfigError
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Z
from qtrain.ir.params import P
from qtrain.problems.base import Problem, check_int, check_seed

__all__ = [
    "CIRCLE_RADIUS",
    "DATASETS",
    "PARAMS_PER_BLOCK",
    "ClassifierProblem",
    "circle_dataset",
    "classifier",
    "reuploading_circuit",
]

CIRCLE_RADIUS = float(np.sqrt(2.0 / np.pi))
"""Radius of the circle holding half the area of ``[−1, 1]²``, so classes are balanced."""

DATASETS = ("circle",)
"""Dataset names accepted by :func:`classifier`."""

PARAMS_PER_BLOCK = 5
"""Parameters per (layer, qubit): ``w₁, w₂, b₁, b₂, b₃``."""

MAX_POINTS = 100_000


def circle_dataset(n_points: int, seed: int) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """``n_points`` points uniform in ``[−1, 1]²``; label +1 inside the circle, −1 outside.

    Returns:
        Points ``(N, 2)`` and labels ``(N,)``.
    """
    n = check_int(n_points, "n_points", 1, MAX_POINTS)
    points = np.random.default_rng(check_seed(seed)).uniform(-1.0, 1.0, size=(n, 2))
    inside = np.sum(points**2, axis=1) < CIRCLE_RADIUS**2
    return points, np.where(inside, 1, -1).astype(np.int64)


def reuploading_circuit(point: NDArray[np.float64], layers: int, n_qubits: int) -> Circuit:
    """The re-uploading circuit for one 2-D data point (every parameter affects ``⟨Z₀⟩``).

    Parameter ``5·(layer·n_qubits + q) + k`` is, for ``k = 0 … 4``, ``w₁, w₂, b₁, b₂, b₃``
    of that block. A bias is the last index of each block, so ``n_params`` is
    ``5 · layers · n_qubits`` even where a coordinate is 0 and its weight drops out.

    >>> reuploading_circuit(np.array([0.5, -0.2]), 2, 1).n_params
    10
    """
    x1, x2 = float(point[0]), float(point[1])
    circuit = Circuit(n_qubits)
    for layer in range(layers):
        for q in range(n_qubits):
            k = PARAMS_PER_BLOCK * (layer * n_qubits + q)
            circuit = circuit.ry(q, x1 * P(k) + P(k + 2))
            circuit = circuit.rz(q, x2 * P(k + 1) + P(k + 3))
            circuit = circuit.ry(q, P(k + 4))
        for q in range(n_qubits - 1, 0, -1):
            circuit = circuit.cnot(q, q - 1)
    return circuit


class ClassifierProblem(Problem):
    """A classifier problem; :meth:`report` scores the sign of ``⟨Z₀⟩`` against the labels."""

    def report(self, term_values: NDArray[np.float64]) -> dict[str, float]:
        """``loss`` (the MSE) and ``accuracy``: the fraction with ``sign⟨Z₀⟩`` = label."""
        loss = self.loss_value(term_values)
        assert self.targets is not None  # always set by classifier()
        predicted = np.where(np.asarray(term_values, dtype=np.float64) >= 0.0, 1.0, -1.0)
        return {"loss": loss, "accuracy": float(np.mean(predicted == self.targets))}


def classifier(
    n_points: int = 40,
    *,
    layers: int = 3,
    n_qubits: int = 1,
    dataset: str = "circle",
    seed: int = 0,
) -> ClassifierProblem:
    """A data re-uploading classifier on a seeded 2-D dataset, trained by MSE.

    Args:
        n_points: data points, one circuit (term) each.
        layers: re-uploading layers.
        n_qubits: qubits; every qubit re-uploads the point with its own parameters.
        dataset: ``"circle"`` (:func:`circle_dataset`).
        seed: seeds the dataset (``circle_dataset(n_points, seed)``) and, through the
            first child of ``SeedSequence(seed)``, θ₀: independent streams, so the data do
            not change with ``layers`` nor θ₀ with ``n_points``.

    Returns:
        An ``"mse"`` problem with ``targets`` the ±1 labels, observable ``Z(0)`` on every
        term and θ₀ uniform in ``[−π, π]``; the data are in ``metadata["points"]`` and
        ``metadata["labels"]``. ``exact_value`` is unknown (``None``).

    Raises:
        ConfigError: an unknown dataset or an out-of-range option.

    >>> p = classifier(8, layers=2)
    >>> p.n_terms, p.n_params, p.loss
    (8, 10, 'mse')
    """
    if dataset not in DATASETS:
        raise ConfigError(f"dataset must be one of {list(DATASETS)}, got {dataset!r}")
    depth = check_int(layers, "layers", 1)
    width = check_int(n_qubits, "n_qubits", 1)
    points, labels = circle_dataset(n_points, seed=seed)
    (init_seq,) = np.random.SeedSequence(check_seed(seed)).spawn(1)
    theta0 = np.random.default_rng(init_seq).uniform(
        -np.pi, np.pi, size=PARAMS_PER_BLOCK * depth * width
    )
    metadata = {
        "dataset": dataset,
        "n_points": len(labels),
        "n_positive": int(np.sum(labels == 1)),
        "radius": CIRCLE_RADIUS,
        "layers": depth,
        "n_qubits": width,
        "seed": seed,
        "points": points.tolist(),
        "labels": labels.tolist(),
    }
    return ClassifierProblem(
        name="classifier",
        description=(
            f"Data re-uploading classifier: {dataset} dataset, {len(labels)} points, "
            f"{depth} layer(s), {width} qubit(s)"
        ),
        circuits=tuple(reuploading_circuit(point, depth, width) for point in points),
        observables=(Z(0),) * len(labels),
        theta0=theta0,
        loss="mse",
        targets=labels.astype(np.float64),
        metadata=metadata,
    )
