"""MaxCut with QAOA, scored against the brute-force optimum.

For a graph with edge weights ``w_ij > 0`` the cost Hamiltonian, minimised, is

    H = Σ_(i,j) w_ij (Z_i Z_j − 1) / 2,

which is ``−w_ij`` on a basis state whose bits differ at ``i`` and ``j`` (a cut edge) and 0
otherwise, so ``⟨H⟩ = −E[cut weight]`` and the exact minimum is ``−max cut``. The circuit is
:func:`~qtrain.ir.ansatz.qaoa` (Farhi, Goldstone, Gutmann, arXiv:1411.4028) with the
``Σ X_i`` mixer; node ``i`` is wire ``i`` (wire 0 the most significant bit of a bit string).

>>> brute_force_max_cut(3, [(0, 1), (1, 2), (0, 2)])[0]
2.0
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ConfigError
from qtrain.ir.ansatz import qaoa
from qtrain.ir.observables import Observable
from qtrain.ir.pauli import PauliTerm
from qtrain.problems.base import Problem, check_int, check_seed

__all__ = [
    "MAX_BRUTE_FORCE_NODES",
    "MaxCutProblem",
    "brute_force_max_cut",
    "cost_hamiltonian",
    "linear_ramp",
    "maxcut",
    "random_graph",
]

MAX_BRUTE_FORCE_NODES = 20
"""The largest graph whose optimum is found by enumerating all ``2ⁿ`` bit strings."""

RAMP_STEP = 0.75
"""``Δt`` of the linear-ramp θ₀ (Sack and Serbyn, Quantum 5, 491 (2021))."""

Edge = tuple[int, int]


def _edges(edges: object) -> list[Edge]:
    """Validated edges ``(i, j)``, ``i < j``: ints >= 0, no self-loops, no repeats."""
    if isinstance(edges, str) or not isinstance(edges, Sequence) or not edges:
        raise ConfigError(f"edges must be a non-empty sequence of (i, j) pairs, got {edges!r}")
    checked: list[Edge] = []
    for edge in edges:
        pair = tuple(edge) if isinstance(edge, Sequence) and not isinstance(edge, str) else ()
        nodes = [
            int(v) for v in pair if isinstance(v, numbers.Integral) and not isinstance(v, bool)
        ]
        if len(pair) != 2 or len(nodes) != 2 or min(nodes) < 0:
            raise ConfigError(f"an edge must be a pair of node ints >= 0, got {edge!r}")
        i, j = sorted(nodes)
        if i == j:
            raise ConfigError(f"self-loop {edge!r}: an edge joins two different nodes")
        if (i, j) in checked:
            raise ConfigError(f"edge {edge!r} is listed twice")
        checked.append((i, j))
    return checked


def _weights(weights: object, n_edges: int) -> list[float]:
    if weights is None:
        return [1.0] * n_edges
    if isinstance(weights, str) or not isinstance(weights, Sequence) or len(weights) != n_edges:
        raise ConfigError(f"weights must be a sequence of {n_edges} numbers, got {weights!r}")
    checked = []
    for weight in weights:
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
            raise ConfigError(f"a weight must be a real number, got {weight!r}")
        if not (math.isfinite(float(weight)) and float(weight) > 0.0):
            raise ConfigError(f"weights must be finite and > 0, got {weight!r}")
        checked.append(float(weight))
    return checked


def random_graph(n_nodes: int, edge_probability: float, seed: int) -> list[Edge]:
    """A seeded Erdős–Rényi graph ``G(n, p)`` with at least one edge.

    Each pair ``i < j`` (in lexicographic order) is an edge with probability ``p``; if the
    draw has no edge, one pair drawn uniformly from the same generator is added.

    >>> random_graph(4, 0.5, seed=1) == random_graph(4, 0.5, seed=1)
    True
    """
    n = check_int(n_nodes, "n_nodes", 2, MAX_BRUTE_FORCE_NODES)
    bad = isinstance(edge_probability, bool) or not isinstance(edge_probability, numbers.Real)
    if bad or not 0.0 < float(edge_probability) <= 1.0:
        raise ConfigError(f"edge_probability must be in (0, 1], got {edge_probability!r}")
    rng = np.random.default_rng(check_seed(seed))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    keep = rng.random(len(pairs)) < float(edge_probability)
    edges = [pair for pair, kept in zip(pairs, keep, strict=True) if kept]
    return edges or [pairs[int(rng.integers(len(pairs)))]]


def cost_hamiltonian(edges: Sequence[Edge], weights: Sequence[float]) -> Observable:
    """``Σ w_ij (Z_i Z_j − 1)/2``, whose expectation is minus the expected cut weight.

    >>> str(cost_hamiltonian([(0, 1)], [2.0]))
    '-1.0 + Z0 Z1'
    """
    terms = [(PauliTerm(()), -0.5 * sum(weights))]
    for (i, j), weight in zip(edges, weights, strict=True):
        terms.append((PauliTerm(((i, "Z"), (j, "Z"))), 0.5 * weight))
    return Observable.from_terms(terms)


def brute_force_max_cut(
    n_nodes: int, edges: Sequence[Edge], weights: Sequence[float] | None = None
) -> tuple[float, list[str]]:
    """The maximum cut weight and every optimal bit string (wire 0 first), by enumeration.

    Vectorised over all ``2ⁿ`` bit strings, one pass per edge: ``O(|E| · 2ⁿ)`` time,
    ``O(2ⁿ)`` memory.

    Raises:
        ConfigError: ``n_nodes`` is above :data:`MAX_BRUTE_FORCE_NODES`.
    """
    n = check_int(n_nodes, "n_nodes", 1, MAX_BRUTE_FORCE_NODES)
    values = [1.0] * len(edges) if weights is None else list(weights)
    states = np.arange(1 << n, dtype=np.int64)
    cuts = np.zeros(1 << n, dtype=np.float64)
    for (i, j), weight in zip(edges, values, strict=True):
        differ = ((states >> (n - 1 - i)) ^ (states >> (n - 1 - j))) & 1
        cuts += weight * differ
    best = float(cuts.max())
    # Equal up to round-off: the same cut summed in a different order may differ in the ulp.
    optima = np.flatnonzero(cuts >= best - 1e-9 * max(1.0, abs(best)))
    return best, [format(int(state), f"0{n}b") for state in optima]


def linear_ramp(layers: int) -> NDArray[np.float64]:
    """θ₀ = ``(γ₀, β₀, γ₁, β₁, …)`` of a discretised linear anneal from ``|+⟩ⁿ``.

    ``γ_l = s_l Δt`` and ``β_l = −(1 − s_l) Δt`` with ``s_l = (l + ½)/p`` and
    ``Δt =`` :data:`RAMP_STEP`: the Trotterised anneal from ``−Σ X_i`` (ground state
    ``|+⟩ⁿ``) to the cost, in the sign convention of ``qaoa``'s ``e^{−iβ Σ X}`` mixer.

    >>> linear_ramp(2).round(4).tolist()
    [0.1875, -0.5625, 0.5625, -0.1875]
    """
    s = (np.arange(layers) + 0.5) / layers
    return np.column_stack([s * RAMP_STEP, -(1.0 - s) * RAMP_STEP]).ravel()


class MaxCutProblem(Problem):
    """A MaxCut QAOA problem; :meth:`report` scores the expected cut against the optimum."""

    def report(self, term_values: NDArray[np.float64]) -> dict[str, float]:
        """``loss``, ``expected_cut`` and ``approximation_ratio`` (expected cut / max cut)."""
        loss = self.loss_value(term_values)
        best = float(self.metadata["max_cut"])
        return {"loss": loss, "expected_cut": -loss, "approximation_ratio": -loss / best}


def maxcut(
    edges: Sequence[tuple[int, int]] | None = None,
    *,
    n_nodes: int = 6,
    edge_probability: float = 0.5,
    weights: Sequence[float] | None = None,
    layers: int = 2,
    seed: int = 0,
) -> MaxCutProblem:
    """MaxCut QAOA on a given graph or a seeded random ``G(n_nodes, edge_probability)``.

    Args:
        edges: ``(i, j)`` node pairs (nodes are wires ``0 … max node``); ``None`` draws a
            random graph (:func:`random_graph`) with ``n_nodes``, ``edge_probability`` and
            ``seed``, which are used for random graphs only.
        n_nodes: nodes of a random graph (2 to :data:`MAX_BRUTE_FORCE_NODES`).
        edge_probability: edge probability of a random graph, in ``(0, 1]``.
        weights: one positive weight per given edge (default all 1); not for random graphs.
        layers: QAOA layers ``p``; ``P = 2p`` parameters ``(γ₀, β₀, γ₁, β₁, …)``.
        seed: seeds the random graph.

    Returns:
        A one-term ``"expval"`` problem; θ₀ is the deterministic :func:`linear_ramp`;
        ``exact_value`` is ``−max cut``; ``metadata`` holds the graph, ``max_cut`` and the
        optimal bit strings.

    Raises:
        ConfigError: a malformed graph or weights, a graph above 20 nodes, bad options.

    >>> p = maxcut([(0, 1), (1, 2), (2, 3), (3, 0)])
    >>> p.exact_value, p.metadata["optima"], p.n_params
    (-4.0, ['0101', '1010'], 4)
    """
    depth = check_int(layers, "layers", 1)
    if edges is None:
        if weights is not None:
            raise ConfigError("weights need an explicit edge list (edges=None draws a graph)")
        graph = random_graph(n_nodes, edge_probability, seed)
        n = check_int(n_nodes, "n_nodes", 2, MAX_BRUTE_FORCE_NODES)
    else:
        graph = _edges(edges)
        n = max(j for _, j in graph) + 1
        if n > MAX_BRUTE_FORCE_NODES:
            raise ConfigError(
                f"graph has {n} nodes; the brute-force optimum needs <= {MAX_BRUTE_FORCE_NODES}"
            )
    values = _weights(weights, len(graph))
    best, optima = brute_force_max_cut(n, graph, values)
    cost = cost_hamiltonian(graph, values)
    metadata = {
        "n_nodes": n,
        "edges": [list(edge) for edge in graph],
        "weights": values,
        "random_graph": edges is None,
        "edge_probability": float(edge_probability) if edges is None else None,
        "seed": seed if edges is None else None,
        "layers": depth,
        "max_cut": best,
        "optima": optima,
    }
    return MaxCutProblem(
        name="maxcut",
        description=f"MaxCut QAOA (p={depth}) on {n} nodes, {len(graph)} edges, max cut {best:g}",
        circuits=(qaoa(cost, depth, n_qubits=n),),
        observables=(cost,),
        theta0=linear_ramp(depth),
        loss="expval",
        exact_value=-best,
        metadata=metadata,
    )
