"""Quantum channels as immutable, validated Kraus values.

A :class:`Channel` is a completely positive, trace-preserving (CPTP) map on ``k`` wires, held
as Kraus operators ``K_i`` of shape ``(K, 2^k, 2^k)`` with ``ρ → Σ_i K_i ρ K_i†``. Every
constructor validates ``Σ_i K_i† K_i = I`` to ``1e-10`` and refuses non-finite values and
probabilities outside their range, naming the channel and the bad value.

Wire order inside a channel follows the circuit convention: the first wire is the most
significant bit of the ``2^k`` index.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qtrain.errors import NoiseModelError
from qtrain.ir.serialize import content_hash

CPTP_TOL = 1e-10
"""Tolerance of the trace-preservation check ``‖Σ K†K − I‖_max``."""

_FINGERPRINT_DECIMALS = 12
_DICT_FORMAT = "qtrain.channel"
_MAX_WIRES = 4

_PAULI = {
    "I": np.eye(2, dtype=np.complex128),
    "X": np.array([[0, 1], [1, 0]], dtype=np.complex128),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=np.complex128),
    "Z": np.array([[1, 0], [0, -1]], dtype=np.complex128),
}

CArray = NDArray[np.complex128]


def _rounded(x: float) -> float:
    # + 0.0 turns -0.0 into 0.0 so that equal channels hash equally.
    return round(float(x), _FINGERPRINT_DECIMALS) + 0.0


@dataclass(frozen=True, eq=False)
class Channel:
    """An immutable CPTP map on ``n_wires`` wires, in Kraus form.

    Attributes:
        name: what the channel is (``"depolarizing"``, ``"thermal_relaxation"``, ...).
        n_wires: wires it acts on, ``k``.
        kraus_ops: read-only complex128 Kraus operators ``(K, 2^k, 2^k)``.
        params: the constructor's parameters (read-only mapping of name → float).

    Equality and hashing follow :meth:`fingerprint`.

    Raises:
        NoiseModelError: wrong shape, non-finite entries, or not trace preserving to 1e-10.
    """

    name: str
    n_wires: int
    kraus_ops: CArray
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not name:
            raise NoiseModelError(f"channel name must be a non-empty str, got {name!r}")
        k = self.n_wires
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= _MAX_WIRES:
            raise NoiseModelError(f"{name}: n_wires must be an int in 1..{_MAX_WIRES}, got {k!r}")
        ops = np.array(self.kraus_ops, dtype=np.complex128, copy=True)
        d = 2**k
        if ops.ndim == 2:
            ops = ops[None]
        if ops.ndim != 3 or ops.shape[1:] != (d, d) or ops.shape[0] == 0:
            raise NoiseModelError(
                f"{name}: Kraus operators must have shape (K, {d}, {d}) for {k} wire(s), "
                f"got {np.shape(self.kraus_ops)}"
            )
        if not np.all(np.isfinite(ops)):
            raise NoiseModelError(f"{name}: Kraus operators contain non-finite values")
        defect = float(np.max(np.abs(np.einsum("kji,kjl->il", ops.conj(), ops) - np.eye(d))))
        if defect > CPTP_TOL:
            raise NoiseModelError(
                f"{name}: not trace preserving, max |Σ K†K − I| = {defect:.3g} > {CPTP_TOL:g} "
                "(Kraus operators of a CPTP channel satisfy Σ K†K = I)"
            )
        ops.setflags(write=False)
        params = {}
        for key, value in dict(self.params).items():
            params[str(key)] = _finite(name, str(key), value)
        object.__setattr__(self, "kraus_ops", ops)
        object.__setattr__(self, "params", MappingProxyType(params))

    @property
    def dim(self) -> int:
        """The Hilbert-space dimension ``2^k``."""
        return int(2**self.n_wires)

    def apply(self, rho: ArrayLike) -> CArray:
        """Apply the channel to density matrices ``(..., 2^k, 2^k)`` (batched or not).

        >>> ch = bit_flip(1.0)
        >>> ch.apply(np.diag([1.0, 0.0])).real
        array([[0., 0.],
               [0., 1.]])
        """
        r = np.asarray(rho, dtype=np.complex128)
        d = self.dim
        if r.ndim < 2 or r.shape[-2:] != (d, d):
            raise NoiseModelError(
                f"{self.name}: density matrix must have shape (..., {d}, {d}), got {r.shape}"
            )
        k = self.kraus_ops
        return np.asarray(np.einsum("kij,...jl,kml->...im", k, r, k.conj()))

    def process_fidelity(self) -> float:
        """Process (entanglement) fidelity with the identity, ``Σ_i |Tr K_i|² / d²``."""
        traces = np.trace(self.kraus_ops, axis1=1, axis2=2)
        return float(np.sum(np.abs(traces) ** 2) / self.dim**2)

    def average_gate_fidelity(self) -> float:
        """Average gate fidelity with the identity, ``(d·F_pro + 1) / (d + 1)``."""
        d = self.dim
        return (d * self.process_fidelity() + 1.0) / (d + 1.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (full precision); :meth:`from_dict` inverts it."""
        return {
            "format": _DICT_FORMAT,
            "name": self.name,
            "n_wires": self.n_wires,
            "kraus": [[[[z.real, z.imag] for z in row] for row in op] for op in self.kraus_ops],
            "params": dict(self.params),
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Channel:
        """Rebuild (and revalidate) a channel from :meth:`to_dict`'s form."""
        if data.get("format") != _DICT_FORMAT:
            raise NoiseModelError(f"not a qtrain channel dict: format={data.get('format')!r}")
        try:
            raw = np.asarray(data["kraus"], dtype=np.float64)
            ops = raw[..., 0] + 1j * raw[..., 1]
            return Channel(str(data["name"]), int(data["n_wires"]), ops, dict(data["params"]))
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            if isinstance(exc, NoiseModelError):
                raise
            raise NoiseModelError(f"malformed channel dict: {exc!r}") from exc

    @cached_property
    def _fingerprint(self) -> str:
        ops = self.kraus_ops
        return content_hash(
            {
                "format": _DICT_FORMAT,
                "name": self.name,
                "n_wires": self.n_wires,
                "kraus": [[_rounded(z.real), _rounded(z.imag)] for z in ops.ravel()],
                "shape": list(ops.shape),
                "params": {k: _rounded(v) for k, v in self.params.items()},
            }
        )

    def fingerprint(self) -> str:
        """sha256 hex of the canonical JSON of name, wires, rounded Kraus and parameters."""
        return self._fingerprint

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Channel) and self.fingerprint() == other.fingerprint()

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __reduce__(self) -> tuple[type[Channel], tuple[str, int, CArray, dict[str, float]]]:
        """Pickle by constructor arguments (the read-only parameter view does not pickle).

        Simulators carrying a noise model go to Dask workers this way.
        """
        return (Channel, (self.name, self.n_wires, np.array(self.kraus_ops), dict(self.params)))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Channel({self.name}({args}), n_wires={self.n_wires}, K={len(self.kraus_ops)})"


def _finite(channel: str, label: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise NoiseModelError(f"{channel}: {label} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise NoiseModelError(f"{channel}: {label} must be finite, got {v!r}")
    return v


def check_probability(channel: str, label: str, value: object, high: float = 1.0) -> float:
    """``value`` as a float in ``[0, high]``, else a :class:`NoiseModelError` naming it."""
    v = _finite(channel, label, value)
    if not 0.0 <= v <= high:
        raise NoiseModelError(f"{channel}: {label} must be in [0, {high:g}], got {v!r}")
    return v


def _pauli_word(word: str) -> CArray:
    out: CArray = np.ones((1, 1), dtype=np.complex128)
    for letter in word:
        out = np.asarray(np.kron(out, _PAULI[letter]), dtype=np.complex128)
    return out


def _mixture(weights: Iterable[tuple[str, float]]) -> CArray:
    """Kraus operators ``√w·P`` of a Pauli mixture, dropping zero weights."""
    ops = [math.sqrt(w) * _pauli_word(word) for word, w in weights if w > 0.0]
    return np.stack(ops)


def depolarizing(p: float, n_wires: int = 1) -> Channel:
    """The ``k``-wire depolarizing channel in Qiskit Aer's convention.

    ``ρ → (1 − p)·ρ + p·Tr(ρ)·I/2ᵏ``: every non-identity Pauli expectation on these wires is
    multiplied by ``1 − p``, and the average gate infidelity is ``p·(d − 1)/d`` with ``d = 2ᵏ``.
    PennyLane's ``DepolarizingChannel(q)`` is this channel with ``p = 4q/3``.

    ``p`` may go up to ``4ᵏ/(4ᵏ − 1)`` (the channel stays CPTP there: the identity's Kraus
    weight ``1 − p + p/4ᵏ`` reaches 0; ``p = 1`` is the completely depolarizing channel), as in
    Aer's ``depolarizing_error``.

    >>> depolarizing(0.1).apply(np.diag([1.0, 0.0])).real.round(3)
    array([[0.95, 0.  ],
           [0.  , 0.05]])
    """
    k = n_wires
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= _MAX_WIRES:
        raise NoiseModelError(f"depolarizing: n_wires must be an int in 1..{_MAX_WIRES}, got {k!r}")
    d2 = 4**k
    p = check_probability("depolarizing", "p", p, high=d2 / (d2 - 1))
    words = ("".join(w) for w in itertools.product("IXYZ", repeat=k))
    weights = [(w, (1.0 - p + p / d2) if set(w) == {"I"} else p / d2) for w in words]
    return Channel("depolarizing", k, _mixture(weights), {"p": p})


def pauli_channel(px: float, py: float, pz: float) -> Channel:
    """``ρ → (1 − px − py − pz)·ρ + px·XρX + py·YρY + pz·ZρZ`` on one wire.

    ⟨X⟩ is multiplied by ``1 − 2(py + pz)``, ⟨Y⟩ by ``1 − 2(px + pz)``, ⟨Z⟩ by ``1 − 2(px + py)``.
    """
    name = "pauli_channel"
    x = check_probability(name, "px", px)
    y = check_probability(name, "py", py)
    z = check_probability(name, "pz", pz)
    total = x + y + z
    if total > 1.0 + 1e-15:
        raise NoiseModelError(f"{name}: px + py + pz must be <= 1, got {total!r}")
    weights = [("I", max(0.0, 1.0 - total)), ("X", x), ("Y", y), ("Z", z)]
    return Channel(name, 1, _mixture(weights), {"px": x, "py": y, "pz": z})


def bit_flip(p: float) -> Channel:
    """``ρ → (1 − p)·ρ + p·XρX``: ⟨Y⟩ and ⟨Z⟩ are multiplied by ``1 − 2p``."""
    p = check_probability("bit_flip", "p", p)
    return Channel("bit_flip", 1, _mixture([("I", 1.0 - p), ("X", p)]), {"p": p})


def phase_flip(p: float) -> Channel:
    """``ρ → (1 − p)·ρ + p·ZρZ``: ⟨X⟩ and ⟨Y⟩ are multiplied by ``1 − 2p``."""
    p = check_probability("phase_flip", "p", p)
    return Channel("phase_flip", 1, _mixture([("I", 1.0 - p), ("Z", p)]), {"p": p})


def amplitude_damping(gamma: float) -> Channel:
    """Energy relaxation ``|1⟩ → |0⟩`` with probability ``gamma``: from |1⟩, ``P(1) = 1 − γ``."""
    g = check_probability("amplitude_damping", "gamma", gamma)
    k0 = np.array([[1.0, 0.0], [0.0, math.sqrt(1.0 - g)]])
    k1 = np.array([[0.0, math.sqrt(g)], [0.0, 0.0]])
    return Channel("amplitude_damping", 1, np.stack([k0, k1]), {"gamma": g})


def phase_damping(gamma: float) -> Channel:
    """Pure dephasing: populations kept, coherences multiplied by ``√(1 − γ)``."""
    g = check_probability("phase_damping", "gamma", gamma)
    k0 = np.array([[1.0, 0.0], [0.0, math.sqrt(1.0 - g)]])
    k1 = np.array([[0.0, 0.0], [0.0, math.sqrt(g)]])
    return Channel("phase_damping", 1, np.stack([k0, k1]), {"gamma": g})


def kraus_from_choi(choi: ArrayLike, dim: int, *, name: str = "choi") -> CArray:
    """Kraus operators from a Choi matrix ``J[(i,a),(j,b)] = E(|i⟩⟨j|)[a,b]``.

    Eigen-decomposes ``J = Σ λ v v†`` and returns ``√λ·reshape(v)ᵀ`` for ``λ > 0``.

    Raises:
        NoiseModelError: when ``J`` has a negative eigenvalue (the map is not completely positive).
    """
    j = np.asarray(choi, dtype=np.complex128)
    evals, evecs = np.linalg.eigh((j + j.conj().T) / 2.0)
    if evals.min() < -CPTP_TOL:
        raise NoiseModelError(
            f"{name}: not completely positive, Choi eigenvalue {evals.min():.3g} < 0"
        )
    ops = [
        math.sqrt(lam) * evecs[:, i].reshape(dim, dim).T
        for i, lam in enumerate(evals)
        if lam > CPTP_TOL**2
    ]
    return np.stack(ops)


def thermal_relaxation(
    t1: float, t2: float, duration: float, excited_population: float = 0.0
) -> Channel:
    """T1/T2 relaxation for ``duration`` (all three in one time unit), built exactly.

    With ``r = 1 − e^{−t/T1}`` and ``p₁ = excited_population``, populations relax toward the
    thermal state ``diag(1 − p₁, p₁)``: ``ρ₁₁ → ρ₁₁·e^{−t/T1} + p₁·r``; coherences decay as
    ``ρ₀₁ → ρ₀₁·e^{−t/T2}``. The Kraus operators come from the Choi matrix of this map, which
    is completely positive exactly when ``T2 ≤ 2·T1``.

    Raises:
        NoiseModelError: non-positive T1/T2, negative duration, ``t2 > 2·t1``, or a population
            outside ``[0, 1]``, naming the value.
    """
    name = "thermal_relaxation"
    t1 = _finite(name, "t1", t1)
    t2 = _finite(name, "t2", t2)
    duration = _finite(name, "duration", duration)
    p1 = check_probability(name, "excited_population", excited_population)
    for label, value in (("t1", t1), ("t2", t2)):
        if value <= 0.0:
            raise NoiseModelError(f"{name}: {label} must be > 0, got {value!r}")
    if duration < 0.0:
        raise NoiseModelError(f"{name}: duration must be >= 0, got {duration!r}")
    if t2 > 2.0 * t1:
        raise NoiseModelError(
            f"{name}: t2 = {t2!r} > 2·t1 = {2.0 * t1!r} is unphysical (T2 ≤ 2·T1 is required)"
        )
    r = -math.expm1(-duration / t1)
    coherence = math.exp(-duration / t2)
    choi = np.zeros((4, 4))
    # index (i, a) = 2·i + a: input basis i, output basis a.
    choi[0, 0] = 1.0 - p1 * r  # E(|0⟩⟨0|) on |0⟩⟨0|
    choi[1, 1] = p1 * r  # E(|0⟩⟨0|) on |1⟩⟨1|
    choi[2, 2] = (1.0 - p1) * r  # E(|1⟩⟨1|) on |0⟩⟨0|
    choi[3, 3] = 1.0 - (1.0 - p1) * r  # E(|1⟩⟨1|) on |1⟩⟨1|
    choi[0, 3] = choi[3, 0] = coherence  # E(|0⟩⟨1|) = e^{−t/T2}|0⟩⟨1|
    ops = kraus_from_choi(choi, 2, name=name)
    params = {"t1": t1, "t2": t2, "duration": duration, "excited_population": p1}
    return Channel(name, 1, ops, params)


def kraus(operators: ArrayLike, *, name: str = "kraus") -> Channel:
    """A channel from any Kraus operators ``(K, 2^k, 2^k)``, validated CPTP."""
    ops = np.asarray(operators, dtype=np.complex128)
    if ops.ndim == 2:
        ops = ops[None]
    d = ops.shape[-1] if ops.ndim == 3 else 0
    k = round(math.log2(d)) if d > 0 else 0
    if d < 2 or 2**k != d:
        raise NoiseModelError(
            f"{name}: Kraus operators must be (K, 2^k, 2^k) matrices, got shape {ops.shape}"
        )
    return Channel(name, k, ops, {})


def tensor(*channels: Channel, name: str | None = None) -> Channel:
    """The product channel ``E₁ ⊗ E₂ ⊗ …`` (the first acts on the most significant wires).

    Its Kraus operators are all products ``K_i ⊗ K_j ⊗ …``; ``params`` keeps each factor's
    parameters prefixed by its position (``"0.t1"``, ``"1.t1"``, ...).
    """
    if not channels:
        raise NoiseModelError("tensor: needs at least one channel")
    ops: CArray = np.ones((1, 1, 1), dtype=np.complex128)
    params: dict[str, float] = {}
    for i, ch in enumerate(channels):
        shape = (len(ops) * len(ch.kraus_ops), ops.shape[1] * ch.dim, ops.shape[2] * ch.dim)
        prod = np.einsum("aij,bkl->abikjl", ops, ch.kraus_ops)
        ops = np.asarray(prod.reshape(shape), dtype=np.complex128)
        params.update({f"{i}.{k}": v for k, v in ch.params.items()})
    label = name if name is not None else "⊗".join(ch.name for ch in channels)
    return Channel(label, sum(ch.n_wires for ch in channels), ops, params)
