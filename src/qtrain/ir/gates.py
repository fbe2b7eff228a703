"""The gate registry: one :class:`GateSpec` per gate, in one table.

Every parametric single-angle gate declares its generator ``G`` with ``U(θ) = exp(-iθ·G)``
exactly (no hidden global phase) and the eigenvalues of ``G``. The gradient engine derives the
shift rule from those eigenvalues (Wierichs et al., Quantum 6, 677 (2022)): RX has ``{±½}``
(one frequency, two-term rule) while CRX has ``{-½, 0, 0, ½}`` (two frequencies, four terms).
Multi-angle gates (U3) declare an exact decomposition into single-angle gates instead.

>>> GATES["CRX"].eigenvalues
(-0.5, 0.0, 0.0, 0.5)
>>> gate_spec("cx").name
'CNOT'
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from types import MappingProxyType

import numpy as np

from qtrain.errors import NonUnitaryError, UnknownGateError, WireCountError
from qtrain.ir import matrices as mx
from qtrain.ir.matrices import CMatrix, MatrixFn
from qtrain.ir.params import Arg

__all__ = ["GATES", "GateSpec", "gate_spec", "pauli_rot_spec", "unitary_spec"]

Decomposition = Callable[
    [tuple[Arg, ...]], tuple[tuple[str, tuple[int, ...], tuple[Arg, ...]], ...]
]
"""Maps a gate's arguments to ``(gate, local wire positions, args)`` triples, in time order."""


def _negate(args: tuple[Arg, ...]) -> tuple[Arg, ...]:
    return tuple(-a for a in args)


@dataclass(frozen=True, eq=False)
class GateSpec:
    """Everything qtrain knows about one gate.

    Attributes:
        name: canonical name (``"CNOT"``, ``"RX"``, ...).
        n_wires: wires the gate acts on; 0 for the families sized by the op (PauliRot, Unitary).
        n_params: number of angle arguments.
        matrix_fn: angles ``(B, n_params)`` → matrices ``(B, d, d)`` (``(1, d, d)`` if fixed).
        generator: ``G`` with ``U(θ) = exp(-iθ·G)``, for single-angle gates.
        eigenvalues: sorted eigenvalues of ``generator`` (with multiplicity).
        diagonal: the matrix is diagonal for every angle (simulated as a phase product).
        permutation: a fixed 0/1 permutation matrix (simulated as an index gather).
        n_controls: leading control wires, for drawing.
        inverse_name: the gate that undoes this one (with ``invert_args`` applied).
        invert_args: maps arguments to the inverse gate's arguments.
        decomposition: exact equivalent sequence of single-angle gates (multi-angle gates).
        label: short text for drawings.
        recipe: the gate's own first-order shift rule ``((coefficient, shift), ...)``, used
            instead of the rule derived from ``eigenvalues`` when given.
    """

    name: str
    n_wires: int
    n_params: int
    matrix_fn: MatrixFn
    generator: CMatrix | None = None
    eigenvalues: tuple[float, ...] | None = None
    diagonal: bool = False
    permutation: bool = False
    n_controls: int = 0
    inverse_name: str = ""
    invert_args: Callable[[tuple[Arg, ...]], tuple[Arg, ...]] = _negate
    decomposition: Decomposition | None = None
    label: str = ""
    recipe: tuple[tuple[float, float], ...] | None = None

    @property
    def is_parametric(self) -> bool:
        """True when the gate takes angle arguments."""
        return self.n_params > 0

    def matrix(self, *angles: float) -> CMatrix:
        """The ``(d, d)`` matrix at the given angles (a convenience for one setting)."""
        matrices = self.matrix_fn(np.array([angles], dtype=np.float64).reshape(1, -1))
        single: CMatrix = matrices[0]
        return single


def _fixed(name: str, matrix: CMatrix, inverse: str = "", **extra: object) -> GateSpec:
    n_wires = int(np.log2(matrix.shape[0]))
    return GateSpec(
        name,
        n_wires,
        0,
        mx.fixed(matrix),
        inverse_name=inverse or name,
        **extra,  # type: ignore[arg-type]
    )


def _rotation(name: str, word: str, **extra: object) -> GateSpec:
    """``exp(-iθ/2·P)`` for a Pauli word: generator ``P/2``, eigenvalues ``±½``."""
    pauli = mx.pauli_word_matrix(word)
    half = len(word) and 2 ** (len(word) - 1)
    return GateSpec(
        name,
        len(word),
        1,
        mx.pauli_rotation(pauli),
        generator=pauli / 2.0,
        eigenvalues=(-0.5,) * half + (0.5,) * half,
        inverse_name=name,
        diagonal=set(word) <= {"I", "Z"},
        **extra,  # type: ignore[arg-type]
    )


def _controlled_rotation(name: str, letter: str) -> GateSpec:
    """``|0⟩⟨0|⊗I + |1⟩⟨1|⊗R_P(θ)``: generator ``|1⟩⟨1|⊗P/2``, eigenvalues ``{-½, 0, 0, ½}``."""
    pauli = mx.PAULI[letter]
    projector = np.diag([0.0, 1.0]).astype(np.complex128)
    return GateSpec(
        name,
        2,
        1,
        mx.controlled(mx.pauli_rotation(pauli), 2),
        generator=np.kron(projector, pauli / 2.0).astype(np.complex128),
        eigenvalues=(-0.5, 0.0, 0.0, 0.5),
        diagonal=letter == "Z",
        n_controls=1,
        inverse_name=name,
        label="R" + letter,
    )


def _phase(name: str, n_wires: int) -> GateSpec:
    """``exp(iθ)`` on ``|1…1⟩``: generator ``-|1…1⟩⟨1…1|``, eigenvalues ``{-1, 0, …}``."""
    dim = 2**n_wires
    mask = tuple(j == dim - 1 for j in range(dim))
    generator = np.zeros((dim, dim), dtype=np.complex128)
    generator[-1, -1] = -1.0
    return GateSpec(
        name,
        n_wires,
        1,
        mx.phase_on(mask),
        generator=generator,
        eigenvalues=(-1.0,) + (0.0,) * (dim - 1),
        diagonal=True,
        n_controls=n_wires - 1,
        inverse_name=name,
        label="P",
    )


def _u3_decomposition(
    args: tuple[Arg, ...],
) -> tuple[tuple[str, tuple[int, ...], tuple[Arg, ...]], ...]:
    theta, phi, lam = args
    return (("PhaseShift", (0,), (lam,)), ("RY", (0,), (theta,)), ("PhaseShift", (0,), (phi,)))


def _u3_invert(args: tuple[Arg, ...]) -> tuple[Arg, ...]:
    theta, phi, lam = args
    return (-theta, -lam, -phi)


_T = np.exp(1j * np.pi / 4)
_SPECS: tuple[GateSpec, ...] = (
    _fixed("I", mx.PAULI["I"], diagonal=True),
    _fixed("X", mx.PAULI["X"], permutation=True),
    _fixed("Y", mx.PAULI["Y"]),
    _fixed("Z", mx.PAULI["Z"], diagonal=True),
    _fixed("H", mx.HADAMARD),
    _fixed("S", mx.diagonal(1, 1j), "Sdg", diagonal=True),
    _fixed("Sdg", mx.diagonal(1, -1j), "S", diagonal=True),
    _fixed("T", mx.diagonal(1, _T), "Tdg", diagonal=True),
    _fixed("Tdg", mx.diagonal(1, np.conj(_T)), "T", diagonal=True),
    _fixed("SX", mx.SQRT_X, "SXdg"),
    _fixed("SXdg", mx.SQRT_X.conj().T, "SX"),
    _rotation("RX", "X"),
    _rotation("RY", "Y"),
    _rotation("RZ", "Z"),
    _phase("PhaseShift", 1),
    GateSpec(
        "U3",
        1,
        3,
        mx.u3,
        inverse_name="U3",
        invert_args=_u3_invert,
        decomposition=_u3_decomposition,
    ),
    _fixed("CNOT", mx.permutation_matrix((0, 1, 3, 2)), permutation=True, n_controls=1, label="X"),
    _fixed(
        "CY",
        np.kron(np.diag([1, 0]), mx.PAULI["I"]) + np.kron(np.diag([0, 1]), mx.PAULI["Y"]),
        n_controls=1,
        label="Y",
    ),
    _fixed("CZ", mx.diagonal(1, 1, 1, -1), diagonal=True, n_controls=1, label="Z"),
    _fixed("SWAP", mx.permutation_matrix((0, 2, 1, 3)), permutation=True),
    _fixed("ISWAP", mx.ISWAP, "ISWAPdg"),
    _fixed("ISWAPdg", mx.ISWAP.conj().T, "ISWAP"),
    _controlled_rotation("CRX", "X"),
    _controlled_rotation("CRY", "Y"),
    _controlled_rotation("CRZ", "Z"),
    _phase("CPhase", 2),
    _rotation("RXX", "XX"),
    _rotation("RYY", "YY"),
    _rotation("RZZ", "ZZ"),
    _rotation("RZX", "ZX"),
    _fixed(
        "CCX",
        mx.permutation_matrix((0, 1, 2, 3, 4, 5, 7, 6)),
        permutation=True,
        n_controls=2,
        label="X",
    ),
    # Families sized by the op: `pauli_rot_spec(word)` and `unitary_spec(matrix)` resolve them.
    GateSpec("PauliRot", 0, 1, mx.fixed(np.eye(1, dtype=np.complex128)), inverse_name="PauliRot"),
    GateSpec("Unitary", 0, 0, mx.fixed(np.eye(1, dtype=np.complex128)), inverse_name="Unitary"),
)

_ALIASES = {"CX": "CNOT", "TOFFOLI": "CCX", "P": "PhaseShift", "U": "U3", "CP": "CPhase"}

GATES: Mapping[str, GateSpec] = MappingProxyType(
    {spec.name: spec for spec in _SPECS}
    | {alias: next(s for s in _SPECS if s.name == target) for alias, target in _ALIASES.items()}
)
"""Every gate by canonical name, plus the aliases CX, TOFFOLI, P, U and CP."""

_BY_UPPER = {name.upper(): spec for name, spec in GATES.items()}


def gate_spec(name: str) -> GateSpec:
    """Look a gate up by name, case-insensitively.

    Raises:
        UnknownGateError: naming the gate and the closest registered names.
    """
    spec = _BY_UPPER.get(str(name).upper())
    if spec is None:
        close = difflib.get_close_matches(str(name).upper(), _BY_UPPER, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(_BY_UPPER[u].name for u in close)}?" if close else ""
        raise UnknownGateError(f"unknown gate {name!r}{hint} Known gates: {', '.join(GATES)}")
    return spec


@lru_cache(maxsize=256)
def pauli_rot_spec(word: str) -> GateSpec:
    """The spec of ``PauliRot`` for one Pauli word: ``exp(-iθ/2·P)``."""
    if not word or set(word) - set("IXYZ"):
        raise WireCountError(f"PauliRot needs a non-empty word over 'IXYZ', got {word!r}")
    spec = _rotation("PauliRot", word, label=f"R{word}")
    if set(word) == {"I"}:
        # exp(-iθ/2·I) is a global phase: generator I/2 has the single eigenvalue ½.
        return replace(spec, eigenvalues=(0.5,) * (2 ** len(word)))
    return spec


@lru_cache(maxsize=256)
def unitary_spec(flat: tuple[complex, ...]) -> GateSpec:
    """The spec of a fixed ``Unitary`` from its row-major entries, checked to be unitary.

    Raises:
        NonUnitaryError: when the entries do not form a ``2^k × 2^k`` unitary matrix.
    """
    dim = round(np.sqrt(len(flat)))
    if dim * dim != len(flat) or dim < 2 or dim & (dim - 1):
        raise NonUnitaryError(f"Unitary needs a 2^k × 2^k matrix, got {len(flat)} entries")
    matrix = np.array(flat, dtype=np.complex128).reshape(dim, dim)
    if not np.all(np.isfinite(matrix)):
        raise NonUnitaryError("Unitary matrix has non-finite entries")
    error = float(np.max(np.abs(matrix.conj().T @ matrix - np.eye(dim))))
    if error > 1e-10:
        raise NonUnitaryError(f"Unitary matrix is not unitary: max |U†U - I| = {error:.3g} > 1e-10")
    return GateSpec(
        "Unitary", dim.bit_length() - 1, 0, mx.fixed(matrix), inverse_name="Unitary", label="U"
    )
