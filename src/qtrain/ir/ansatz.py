"""Built-in ansatz families. Parameters are numbered in the order the gates appear.

>>> hardware_efficient(3, 2).n_params
12
>>> strongly_entangling(3, 1).n_params
9
>>> random_pauli(3, 2, seed=1).n_params, identity_block(hardware_efficient(2, 1)).n_params
(6, 8)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from qtrain.errors import CircuitError, ObservableError
from qtrain.ir.circuit import Circuit, Op
from qtrain.ir.gates import gate_spec
from qtrain.ir.observables import Observable, X
from qtrain.ir.params import Arg, P, ParamExpr

__all__ = [
    "hardware_efficient",
    "identity_block",
    "identity_blocks",
    "qaoa",
    "random_pauli",
    "renumbered",
    "strongly_entangling",
]


def _positive(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise CircuitError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _entangler_pairs(n_qubits: int, pattern: str) -> list[tuple[int, int]]:
    ladder = [(q, q + 1) for q in range(n_qubits - 1)]
    if pattern == "ladder":
        return ladder
    if pattern == "ring":
        return [*ladder, (n_qubits - 1, 0)] if n_qubits > 2 else ladder
    raise CircuitError(f"entangling pattern must be 'ladder' or 'ring', got {pattern!r}")


def hardware_efficient(
    n_qubits: int,
    layers: int,
    *,
    rotations: Sequence[str] = ("RY", "RZ"),
    entangler: str = "CNOT",
    pattern: str = "ladder",
) -> Circuit:
    """Layers of single-qubit rotations on every wire followed by a ladder (or ring) of CNOTs.

    Kandala et al., Nature 549, 242 (2017). Per layer: each rotation in ``rotations`` on every
    wire (``P = layers · len(rotations) · n_qubits`` parameters, numbered layer by layer,
    rotation by rotation, wire by wire), then ``entangler`` on ``(q, q+1)`` pairs.
    """
    n = _positive(n_qubits, "n_qubits")
    depth = _positive(layers, "layers")
    specs = [gate_spec(name) for name in rotations]
    for spec in specs:
        if spec.n_wires != 1 or spec.n_params != 1:
            raise CircuitError(f"rotations must be 1-qubit, 1-angle gates; got {spec.name}")
    pair_spec = gate_spec(entangler)
    if pair_spec.n_wires != 2 or pair_spec.n_params != 0:
        raise CircuitError(f"entangler must be a fixed 2-qubit gate, got {pair_spec.name}")
    circuit, index = Circuit(n), 0
    for _ in range(depth):
        for spec in specs:
            for q in range(n):
                circuit = circuit.gate(spec.name, q, P(index))
                index += 1
        for a, b in _entangler_pairs(n, pattern):
            circuit = circuit.gate(pair_spec.name, (a, b))
    return circuit


def strongly_entangling(
    n_qubits: int, layers: int, *, ranges: Sequence[int] | None = None
) -> Circuit:
    """Schuld et al., Phys. Rev. A 101, 032308 (2020): general rotations and ranged CNOTs.

    Per layer ``l``: ``RZ(θ)·RY(θ)·RZ(θ)`` on every wire (PennyLane's ``Rot``), then
    ``CNOT(q, (q + r_l) mod n)`` for every wire, with ``r_l = ranges[l]`` (default
    ``l mod (n-1) + 1``). ``P = 3 · n_qubits · layers``.
    """
    n = _positive(n_qubits, "n_qubits")
    depth = _positive(layers, "layers")
    default = [layer % max(n - 1, 1) + 1 for layer in range(depth)]
    hops = list(ranges) if ranges is not None else default
    if len(hops) != depth:
        raise CircuitError(f"ranges needs one entry per layer ({depth}), got {len(hops)}")
    circuit, index = Circuit(n), 0
    for hop in hops:
        for q in range(n):
            circuit = circuit.rz(q, P(index)).ry(q, P(index + 1)).rz(q, P(index + 2))
            index += 3
        if n > 1:
            step = _positive(hop, "range")
            if step % n == 0:
                raise CircuitError(f"range {step} maps every wire to itself on {n} qubits")
            for q in range(n):
                circuit = circuit.cnot(q, (q + step) % n)
    return circuit


def _evolution(circuit: Circuit, hamiltonian: Observable, param: int) -> Circuit:
    """Append ``exp(-iγ·H)`` for commuting Pauli terms: ``PauliRot(2·c·γ)`` per term."""
    for term, coeff in hamiltonian.terms:
        if not term.factors:
            continue  # the identity only adds a global phase
        if abs(coeff.imag) > 1e-12:
            raise ObservableError(f"QAOA needs real coefficients; term {term} has {coeff}")
        word = "".join(letter for _, letter in term.factors)
        circuit = circuit.pauli_rot(word, term.wires, 2.0 * coeff.real * P(param))
    return circuit


def qaoa(
    cost: Observable,
    layers: int,
    *,
    mixer: Observable | None = None,
    n_qubits: int | None = None,
) -> Circuit:
    """Farhi, Goldstone, Gutmann, arXiv:1411.4028: ``Π_l e^{-iβ_l M} e^{-iγ_l C} |+⟩^n``.

    Parameters alternate ``γ_l = θ[2l]`` and ``β_l = θ[2l+1]``; every term of the cost and
    mixer becomes a ``PauliRot`` whose angle is ``2·coefficient·θ`` (one parameter tied into
    many gates, each scaled). Exact when the cost's terms commute (Ising costs, the default
    ``Σ X_i`` mixer); for non-commuting terms this is one first-order Trotter step.
    """
    depth = _positive(layers, "layers")
    n = n_qubits if n_qubits is not None else cost.max_wire + 1
    n = _positive(n, "n_qubits")
    if cost.max_wire >= n:
        raise ObservableError(f"cost acts on wire {cost.max_wire}, beyond {n} qubits")
    mixing = (
        mixer if mixer is not None else sum((X(q) for q in range(n)), Observable.from_terms([]))
    )
    circuit = Circuit(n)
    for q in range(n):
        circuit = circuit.h(q)
    for layer in range(depth):
        circuit = _evolution(circuit, cost, 2 * layer)
        circuit = _evolution(circuit, mixing, 2 * layer + 1)
    return circuit


_AXES = ("RX", "RY", "RZ")


def random_pauli(
    n_qubits: int,
    layers: int,
    *,
    seed: int | np.random.Generator | None = None,
    prepare: bool = True,
) -> Circuit:
    """McClean et al., Nat. Commun. 9, 4812 (2018): random Pauli rotations and CZ ladders.

    ``RY(π/4)`` on every wire (``prepare=True``; it keeps X, Y, Z from being special axes),
    then per layer a rotation about an axis drawn uniformly from X, Y, Z on every wire
    (``P = layers · n_qubits`` parameters, numbered layer by layer, wire by wire) and ``CZ``
    on ``(q, q+1)``. The axes are drawn from ``seed`` (an int or a ``numpy`` Generator), so
    each seed is one member of the random family.
    """
    n = _positive(n_qubits, "n_qubits")
    depth = _positive(layers, "layers")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    axes = rng.integers(0, 3, size=(depth, n))
    # Ops of known gates on checked wires, built directly into one Circuit: appending them
    # one by one through the validating builders took 16 ms for a (14, 50) member (10 ms
    # with one op list), against 3.6 ms here; a scan builds thousands of members.
    ops = [Op("RY", (q,), (math.pi / 4,)) for q in range(n)] if prepare else []
    for layer in range(depth):
        ops += [Op(_AXES[axes[layer, q]], (q,), (P(layer * n + q),)) for q in range(n)]
        ops += [Op("CZ", (q, q + 1)) for q in range(n - 1)]
    return Circuit(n, tuple(ops))


def renumbered(circuit: Circuit, offset: int) -> Circuit:
    """The same circuit reading ``θ[k + offset]`` wherever it read ``θ[k]``."""
    if isinstance(offset, bool) or not isinstance(offset, numbers.Integral) or offset < 0:
        raise CircuitError(f"offset must be an int >= 0, got {offset!r}")

    def moved(arg: Arg) -> Arg:
        if not isinstance(arg, ParamExpr):
            return arg
        # Shifting the indices keeps the terms sorted and non-zero: still canonical.
        return ParamExpr(tuple((k + offset, s) for k, s in arg.terms), arg.offset)

    ops = tuple(
        Op(op.gate, op.wires, tuple(moved(a) for a in op.args), op.word, op.matrix)
        for op in circuit.ops
    )
    return Circuit(circuit.n_qubits, ops)


def identity_block(half: Circuit) -> Circuit:
    """Grant et al., Quantum 3, 214 (2019): ``half`` followed by its inverse on new parameters.

    The block reads ``2P`` parameters: ``θ[:P]`` for ``half`` and ``θ[P:]`` for its inverse,
    so it is ``U(θ[P:])† · U(θ[:P])`` and equals the identity whenever ``θ[P:] == θ[:P]``
    (the initialisation). The two halves are independent parameters: tied to one variable,
    the block would be the identity for every value and its gradient would vanish.
    """
    inverse = renumbered(half.inverse(), half.n_params)
    return Circuit(half.n_qubits, half.ops + inverse.ops)  # same wires: no remapping


def identity_blocks(halves: Sequence[Circuit]) -> Circuit:
    """Identity blocks one after the other (block ``b`` reads the next ``2·P_b`` parameters).

    Initialise with ``θ = concat(φ_1, φ_1, φ_2, φ_2, …)``: the whole circuit is then the
    identity, while each half has its own (random) parameters.
    """
    if not halves:
        raise CircuitError("identity_blocks needs at least one block")
    n, offset = halves[0].n_qubits, 0
    ops: list[Op] = []
    for half in halves:
        if half.n_qubits != n:
            raise CircuitError(f"every block must have {n} qubits, got {half.n_qubits}")
        block = identity_block(half)
        ops += renumbered(block, offset).ops
        offset += block.n_params
    return Circuit(n, tuple(ops))


def __dir__() -> list[str]:
    """The ansatz builders only (``__all__``), not the names this module imports."""
    return sorted(__all__)
