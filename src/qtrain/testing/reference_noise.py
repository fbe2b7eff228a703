"""A dense noisy reference: full ``2ⁿ × 2ⁿ`` density matrices and Kraus operators.

Deliberately slow and simple, sharing nothing with ``qtrain.sim``. The state starts as
``ρ = |0…0⟩⟨0…0|``; each op applies ``ρ → UρU†`` with the dense unitary of
:func:`~qtrain.testing.reference.reference_op_matrix`, then every channel the noise model
places after it (:meth:`NoiseModel.for_circuit`), each Kraus operator embedded on its wires
into a full ``2ⁿ × 2ⁿ`` matrix (:func:`embed_operator`) and applied as ``ρ → Σ_i K_i ρ K_i†``.
The before-measure channels follow the last op.

Readout error is applied exactly and the obvious way (:func:`reference_noisy_expval`): for each
Pauli term, rotate ρ into the term's measurement basis, take the diagonal (the distribution of
the measured bits), push it through the tensor product of the per-wire confusion matrices and
average the term's parity ``(−1)^{Σ_w b_w}`` over the result.

The module also holds seeded generators of random circuits and noise models over every gate
family and every channel constructor (:func:`random_noisy_case`), for tests.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.circuit import Circuit, Op, make_op
from qtrain.ir.gates import GATES
from qtrain.ir.observables import Observable, PauliTerm
from qtrain.ir.params import Arg, P
from qtrain.noise.channels import (
    Channel,
    amplitude_damping,
    bit_flip,
    depolarizing,
    kraus,
    pauli_channel,
    phase_damping,
    phase_flip,
    tensor,
    thermal_relaxation,
)
from qtrain.noise.model import NoiseModel
from qtrain.noise.readout import readout_error
from qtrain.testing.reference import MAX_REFERENCE_QUBITS, reference_op_matrix

__all__ = [
    "GATE_FAMILIES",
    "embed_operator",
    "random_channel",
    "random_circuit",
    "random_noise_model",
    "random_noisy_case",
    "random_observable",
    "reference_density_matrix",
    "reference_noisy_expval",
    "reference_readout_distribution",
]

CArray = NDArray[np.complex128]
FArray = NDArray[np.float64]

_HADAMARD = np.array([[1, 1], [1, -1]], dtype=np.complex128) / np.sqrt(2.0)
_S_DAGGER = np.diag([1.0, -1j]).astype(np.complex128)
# V with V·P·V† = Z, so measuring P is measuring Z after V.
_BASIS_CHANGE = {"X": _HADAMARD, "Y": _HADAMARD @ _S_DAGGER, "Z": np.eye(2, dtype=np.complex128)}


def _bit(index: int, wire: int, n_qubits: int) -> int:
    return (index >> (n_qubits - 1 - wire)) & 1


def embed_operator(local: CArray, wires: tuple[int, ...], n_qubits: int) -> CArray:
    """Any ``(2ᵏ, 2ᵏ)`` operator on ``wires`` as a full ``(2ⁿ, 2ⁿ)`` matrix.

    Column by column: for basis state ``j`` the local input index is read off the bits of
    ``j`` on ``wires`` (the first wire is the most significant local bit), and each local
    output ``a`` writes ``local[a, b]`` at the row where those bits are replaced by ``a``.
    """
    if n_qubits > MAX_REFERENCE_QUBITS:
        raise ValueError(f"reference simulator is for n <= {MAX_REFERENCE_QUBITS}, got {n_qubits}")
    matrix = np.asarray(local, dtype=np.complex128)
    k = len(wires)
    if matrix.shape != (1 << k, 1 << k):
        raise ValueError(f"operator of shape {matrix.shape} does not act on {k} wire(s)")
    dim = 1 << n_qubits
    full = np.zeros((dim, dim), dtype=np.complex128)
    for column in range(dim):
        local_in = 0
        for w in wires:
            local_in = (local_in << 1) | _bit(column, w, n_qubits)
        for local_out in range(1 << k):
            row = column
            for position, w in enumerate(wires):
                mask = 1 << (n_qubits - 1 - w)
                if (local_out >> (k - 1 - position)) & 1:
                    row |= mask
                else:
                    row &= ~mask
            full[row, column] += matrix[local_out, local_in]
    return full


def _apply_channel(rho: CArray, channel: Channel, wires: tuple[int, ...], n: int) -> CArray:
    """``Σ_i K_i ρ K_i†`` with each ``K_i`` embedded into ``(2ⁿ, 2ⁿ)``."""
    out = np.zeros_like(rho)
    for op in channel.kraus_ops:
        full = embed_operator(op, wires, n)
        out += full @ rho @ full.conj().T
    return out


def reference_density_matrix(
    circuit: Circuit, theta: FArray | None = None, noise: NoiseModel | None = None
) -> CArray:
    """The noisy final state ``ρ (2ⁿ, 2ⁿ)`` at parameters ``theta (P,)``, before readout.

    Gates act as ``UρU†``; after op ``i`` the channels ``noise.for_circuit(c).after_ops[i]``
    act in order, then the before-measure channels. ``noise=None`` is the ideal circuit.
    """
    n = circuit.n_qubits
    values = np.zeros(circuit.n_params) if theta is None else np.asarray(theta, dtype=np.float64)
    resolved = (noise if noise is not None else NoiseModel()).for_circuit(circuit)
    dim = 1 << n
    rho = np.zeros((dim, dim), dtype=np.complex128)
    rho[0, 0] = 1.0
    for op, placed in zip(circuit.ops, resolved.after_ops, strict=True):
        unitary = reference_op_matrix(op, values, n)
        rho = unitary @ rho @ unitary.conj().T
        for channel, wires in placed:
            rho = _apply_channel(rho, channel, wires, n)
    for channel, wires in resolved.before_measure:
        rho = _apply_channel(rho, channel, wires, n)
    return rho


def reference_readout_distribution(
    rho: CArray, basis: dict[int, str], noise: NoiseModel | None = None
) -> FArray:
    """The distribution ``(2ⁿ,)`` of read bits when measuring ``rho`` in ``basis``.

    ``basis`` maps wires to ``"X"``, ``"Y"`` or ``"Z"`` (other wires: Z). The state is rotated
    by ``V = ⊗_w V_w`` with ``V_w P V_w† = Z``; the diagonal of ``VρV†`` is the ideal
    distribution, and the readout errors' confusion matrices ``A_w[read, prepared]`` act on it
    as ``(⊗_w A_w)·p`` (identity on wires without an error).
    """
    n = round(np.log2(rho.shape[0]))
    rotation = np.eye(1 << n, dtype=np.complex128)
    for wire, letter in basis.items():
        rotation = embed_operator(_BASIS_CHANGE[letter], (wire,), n) @ rotation
    ideal = np.real(np.diagonal(rotation @ rho @ rotation.conj().T)).astype(np.float64)
    errors = (noise if noise is not None else NoiseModel()).readout_errors(n)
    confusion: FArray = np.ones((1, 1))
    for wire in range(n):
        err = errors.get(wire)
        local = np.eye(2) if err is None else err.confusion_matrix()
        confusion = np.asarray(np.kron(confusion, local), dtype=np.float64)
    read: FArray = confusion @ ideal
    return read


def reference_noisy_expval(
    circuit: Circuit,
    observable: Observable,
    theta: FArray | None = None,
    noise: NoiseModel | None = None,
) -> float:
    """``Σ_k c_k ⟨P_k⟩_read`` with channels and readout error, computed densely.

    For each term the read distribution ``p'`` of :func:`reference_readout_distribution` (in
    the term's basis) gives ``⟨P_k⟩_read = Σ_j p'_j (−1)^{Σ_{w∈P_k} b_w(j)}``; the identity
    term is its coefficient times ``Tr ρ``.
    """
    n = circuit.n_qubits
    rho = reference_density_matrix(circuit, theta, noise)
    total = 0.0
    for term, coeff in observable.terms:
        letters = dict(term.factors)
        read = reference_readout_distribution(rho, letters, noise)
        signs = np.array(
            [(-1.0) ** sum(_bit(j, w, n) for w in letters) for j in range(1 << n)],
            dtype=np.float64,
        )
        total += float(np.real(coeff)) * float(read @ signs)
    return total


# Seeded random cases for tests: every gate family, every channel constructor.

GATE_FAMILIES: tuple[str, ...] = (
    *sorted({spec.name for spec in GATES.values() if spec.n_wires > 0}),
    "PauliRot",
    "Unitary",
)
"""Every gate the registry has (canonical names, no aliases), PauliRot and Unitary."""


def _random_kraus(rng: np.random.Generator, n_wires: int, count: int) -> CArray:
    """``count`` Kraus operators from a random isometry ``(count·d, d)`` (QR of a Gaussian)."""
    d = 1 << n_wires
    gauss = rng.normal(size=(count * d, d)) + 1j * rng.normal(size=(count * d, d))
    isometry, _ = np.linalg.qr(gauss)
    ops: CArray = isometry.reshape(count, d, d)
    return ops


def random_channel(rng: np.random.Generator, n_wires: int = 1) -> Channel:
    """A random channel on ``n_wires`` (1 to 3) from one of the constructors of ``qt.noise``.

    One wire: depolarizing, bit and phase flip, Pauli, amplitude and phase damping, thermal
    relaxation (with and without excited population) or random Kraus. Two wires:
    depolarizing, random Kraus or a tensor product of two 1-wire channels. Three: depolarizing.
    """
    if n_wires == 1:
        kind = int(rng.integers(9))
        p = float(rng.uniform(0.02, 0.3))
        t1 = float(rng.uniform(20.0, 80.0))
        t2 = float(rng.uniform(0.3, 2.0)) * t1
        makers = (
            lambda: depolarizing(p),
            lambda: bit_flip(p),
            lambda: phase_flip(p),
            lambda: pauli_channel(*(rng.dirichlet(np.ones(4))[:3] * 0.6)),
            lambda: amplitude_damping(p),
            lambda: phase_damping(p),
            lambda: thermal_relaxation(t1, t2, float(rng.uniform(1.0, 15.0))),
            lambda: thermal_relaxation(t1, t2, 10.0, excited_population=p),
            lambda: kraus(_random_kraus(rng, 1, int(rng.integers(1, 4)))),
        )
        return makers[kind]()
    if n_wires == 2:
        kind = int(rng.integers(3))
        if kind == 0:
            return depolarizing(float(rng.uniform(0.02, 0.3)), n_wires=2)
        if kind == 1:
            return kraus(_random_kraus(rng, 2, int(rng.integers(1, 4))))
        return tensor(random_channel(rng, 1), random_channel(rng, 1))
    return depolarizing(float(rng.uniform(0.02, 0.3)), n_wires=n_wires)


def _random_arg(rng: np.random.Generator, n_params: int) -> Arg:
    """A constant, a scaled-and-offset parameter or a sum of two parameters."""
    kind = int(rng.integers(3)) if n_params else 0
    if kind == 0:
        return float(rng.uniform(-np.pi, np.pi))
    k, j = (int(i) for i in rng.integers(n_params, size=2))
    if kind == 1:
        scale = float(rng.choice([-2.0, -1.0, 0.5, 1.0, 2.0, 3.0]))
        return scale * P(k) + float(rng.uniform(-1.0, 1.0))
    return P(k) - 0.5 * P(j) if k != j else P(k) + P(j)


def _random_op(rng: np.random.Generator, name: str, n_qubits: int, n_params: int) -> Op:
    if name == "PauliRot":
        k = int(rng.integers(1, min(n_qubits, 3) + 1))
        word = "".join(rng.choice(list("IXYZ"), size=k))
        wires = [int(w) for w in rng.permutation(n_qubits)[:k]]
        return make_op("PauliRot", wires, (_random_arg(rng, n_params),), word=word)
    if name == "Unitary":
        k = int(rng.integers(1, min(n_qubits, 2) + 1))
        unitary = _random_kraus(rng, k, 1)[0]
        wires = [int(w) for w in rng.permutation(n_qubits)[:k]]
        return make_op("Unitary", wires, (), matrix=unitary)
    spec = GATES[name]
    wires = [int(w) for w in rng.permutation(n_qubits)[: spec.n_wires]]
    return make_op(name, wires, [_random_arg(rng, n_params) for _ in range(spec.n_params)])


def random_circuit(
    rng: np.random.Generator, n_qubits: int, n_ops: int, n_params: int = 3
) -> Circuit:
    """``n_ops`` random ops over :data:`GATE_FAMILIES` that fit ``n_qubits`` wires.

    Angles are constants or affine expressions of ``θ[0..n_params)`` (tied and scaled).
    """
    names = [g for g in GATE_FAMILIES if g not in GATES or GATES[g].n_wires <= n_qubits]
    ops = [_random_op(rng, str(rng.choice(names)), n_qubits, n_params) for _ in range(n_ops)]
    return Circuit(n_qubits, tuple(ops))


def random_noise_model(rng: np.random.Generator, circuit: Circuit) -> NoiseModel:
    """A random model for ``circuit`` that uses every kind of rule.

    Channels after gates the circuit has (1-wire, or as wide as the gate; sometimes only on
    one op's exact wires), one ``after_all`` channel, before-measure channels (1-wire on some
    wires, 2-wire on a pair) and readout errors on some wires.
    """
    n = circuit.n_qubits
    model = NoiseModel()
    for op in [circuit.ops[int(i)] for i in rng.permutation(len(circuit.ops))[:3]]:
        width = len(op.wires)
        fixed = op.gate not in ("PauliRot", "Unitary")
        ch_wires = width if fixed and width > 1 and rng.random() < 0.6 else 1
        only = op.wires if fixed and rng.random() < 0.3 else None
        model = model.after(op.gate, random_channel(rng, ch_wires), only)
    if rng.random() < 0.7:
        model = model.after_all(random_channel(rng, 1))
    if rng.random() < 0.5:
        odd = [w for w in range(n) if w % 2]
        model = model.before_measure(random_channel(rng, 1), odd or None)
    if n >= 2 and rng.random() < 0.5:
        pair = [int(w) for w in rng.permutation(n)[:2]]
        model = model.before_measure(random_channel(rng, 2), pair)
    for wire in range(n):
        if rng.random() < 0.6:
            p01, p10 = (float(x) for x in rng.uniform(0.0, 0.15, size=2))
            model = model.readout(readout_error(p01, p10), wire)
    return model


def random_observable(rng: np.random.Generator, n_qubits: int, n_terms: int = 4) -> Observable:
    """``n_terms`` random Pauli words on ``n_qubits`` wires with ``N(0, 1)`` coefficients."""
    terms = []
    for _ in range(n_terms):
        letters = rng.choice(list("IXYZ"), size=n_qubits)
        factors = tuple((w, str(p)) for w, p in enumerate(letters) if p != "I")
        terms.append((PauliTerm(factors), complex(rng.normal())))
    return Observable.from_terms(terms)


def random_noisy_case(
    seed: int, n_qubits: int | None = None, n_ops: int | None = None
) -> tuple[Circuit, NoiseModel, FArray]:
    """A seeded ``(circuit, noise model, theta (P,))`` triple (1 to 4 qubits by default)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5)) if n_qubits is None else n_qubits
    ops = int(rng.integers(2, 9)) if n_ops is None else n_ops
    circuit = random_circuit(rng, n, ops)
    theta = rng.uniform(-np.pi, np.pi, size=circuit.n_params)
    return circuit, random_noise_model(rng, circuit), theta
