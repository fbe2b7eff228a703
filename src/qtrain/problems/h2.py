"""The hydrogen molecule in a minimal basis: the standard 4-qubit VQE benchmark.

H₂ in STO-3G, Jordan–Wigner encoded, spin orbitals ordered (1σg↑, 1σg↓, 1σu↑, 1σu↓) on
wires 0–3 (occupied = ``|1⟩``), so the Hartree–Fock state is ``|1100⟩``. :func:`h2` builds
the problem at a bond length: coefficients, Hartree–Fock and exact (FCI) energies come from
``data/h2_sto3g.json``, tabulated by ``tools/gen_h2_table.py`` with PySCF and OpenFermion on
0.3–2.5 Å in 0.1 Å steps plus the 0.7414 Å equilibrium (:data:`H2_BOND_LENGTHS`); another
length is computed on the fly when the ``chem`` extra is installed.

:func:`h2_hamiltonian` and the constants :data:`H2_FCI_ENERGY`, :data:`H2_HF_ENERGY` are the
older fixed instance used by ``qtrain quickstart``. Its coefficients are those of the widely
reproduced PennyLane/OpenFermion H₂ example; they are the Hamiltonian at **0.70 Å** (they
equal the generated 0.7 Å entry to 1e-15), not at 0.7414 Å as once labelled here. The
equilibrium problem is ``h2(0.7414)``.

>>> round(H2_FCI_ENERGY, 6), round(h2().exact_value, 6)
(-1.136189, -1.13727)
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ConfigError
from qtrain.ir.ansatz import hardware_efficient
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.ir.params import P
from qtrain.ir.pauli import PauliTerm
from qtrain.problems.base import Problem, check_int, check_seed

__all__ = [
    "CHEMICAL_ACCURACY",
    "H2_ANSATZE",
    "H2_BOND_LENGTHS",
    "H2_EQUILIBRIUM",
    "H2_FCI_ENERGY",
    "H2_HF_ENERGY",
    "H2Problem",
    "h2",
    "h2_ansatz",
    "h2_hamiltonian",
    "h2_table",
    "hamiltonian_from_terms",
]

H2_FCI_ENERGY = -1.136189454065923
"""Exact ground-state energy of :func:`h2_hamiltonian` (Hartree; the 0.70 Å instance)."""

H2_HF_ENERGY = -1.117349034990280
"""Energy of the Hartree–Fock state ``|1100⟩`` of :func:`h2_hamiltonian` (Hartree)."""

H2_EQUILIBRIUM = 0.7414
"""The experimental equilibrium bond length (Å), the default of :func:`h2`."""

CHEMICAL_ACCURACY = 1.6e-3
"""1 kcal/mol ≈ 1.6 mHa: an energy error at most this is "chemically accurate"."""

H2_ANSATZE = ("ucc", "hea")
"""Ansatz names accepted by :func:`h2`."""

_GRID_TOLERANCE = 1e-9  # Å: a bond length this close to a grid point is that grid point
_TABLE_FORMAT = "qtrain.h2_sto3g/1"

_H2_TERMS = """
-0.04207897647782276
+ 0.17771287465139946 Z0 + 0.17771287465139946 Z1
- 0.24274280513140462 Z2 - 0.24274280513140462 Z3
+ 0.17059738328801052 Z0 Z1 + 0.12293305056183798 Z0 Z2 + 0.16768319457718960 Z0 Z3
+ 0.16768319457718960 Z1 Z2 + 0.12293305056183798 Z1 Z3 + 0.17627640804319591 Z2 Z3
+ 0.04475014401535161 Y0 X1 X2 Y3 - 0.04475014401535161 Y0 Y1 X2 X3
- 0.04475014401535161 X0 X1 Y2 Y3 + 0.04475014401535161 X0 Y1 Y2 X3
"""


def h2_hamiltonian() -> Observable:
    """The fixed 15-term qubit Hamiltonian of ``qtrain quickstart`` (STO-3G, 0.70 Å)."""
    return Observable.parse(" ".join(_H2_TERMS.split()))


def h2_ansatz() -> Circuit:
    """Hartree–Fock ``|1100⟩`` followed by the double excitation ``|1100⟩ → |0011⟩``.

    The Jordan–Wigner double excitation is eight commuting Pauli rotations, all tied to one
    parameter θ₀ with scale ±⅛, so ``|1100⟩ → cos(θ₀/2)|1100⟩ + sin(θ₀/2)|0011⟩`` (the
    Givens-rotation form of PennyLane's ``DoubleExcitation``). One parameter reaches the
    exact ground state, at θ₀ ≈ 0.20973 for :func:`h2_hamiltonian`.
    """
    circuit = Circuit(4).x(0).x(1)
    wires = (0, 1, 2, 3)
    for word, sign in _DOUBLE_EXCITATION:
        circuit = circuit.pauli_rot(word, wires, sign * 0.125 * P(0))
    return circuit


# The Jordan–Wigner double excitation as Pauli words and signs (wires 0, 1, 2, 3).
_DOUBLE_EXCITATION = (
    ("XXXY", -1.0),
    ("XXYX", -1.0),
    ("XYXX", 1.0),
    ("YXXX", 1.0),
    ("XYYY", -1.0),
    ("YXYY", -1.0),
    ("YYXY", 1.0),
    ("YYYX", 1.0),
)


@functools.cache
def h2_table() -> Mapping[str, Any]:
    """The parsed ``data/h2_sto3g.json`` (cached; treat as read-only).

    Keys: ``format``, ``units``, ``basis``, ``mapping``, ``spin_orbitals``, ``hf_state``,
    ``generator`` (command and package versions) and ``entries``, one per bond length with
    ``bond_length``, ``nuclear_repulsion``, ``hf_energy``, ``fci_energy`` and ``terms``
    (``{word: coefficient}``, ``"I"`` for the identity).
    """
    source = importlib.resources.files("qtrain.problems").joinpath("data/h2_sto3g.json")
    data: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    if data.get("format") != _TABLE_FORMAT:
        raise ConfigError(f"h2_sto3g.json has format {data.get('format')!r}, not {_TABLE_FORMAT}")
    return data


H2_BOND_LENGTHS: tuple[float, ...] = tuple(
    float(entry["bond_length"]) for entry in h2_table()["entries"]
)
"""The tabulated bond lengths (Å), ascending."""


def hamiltonian_from_terms(terms: Mapping[str, float]) -> Observable:
    """An observable from ``{word: coefficient}`` (``"I"`` or ``""`` is the identity).

    >>> str(hamiltonian_from_terms({"I": -0.5, "Z0 Z1": 0.25}))
    '-0.5 + 0.25 Z0 Z1'
    """
    pairs = []
    for word, coefficient in terms.items():
        factors = tuple((int(f[1:]), f[0]) for f in word.split() if f != "I")
        pairs.append((PauliTerm(factors), float(coefficient)))
    return Observable.from_terms(pairs)


def _bond_length(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"bond_length must be a real number of ångström, got {value!r}")
    length = float(value)
    if not (math.isfinite(length) and length > 0.0):
        raise ConfigError(f"bond_length must be a positive finite length in Å, got {length!r}")
    return length


def _entry(bond_length: float) -> tuple[Mapping[str, Any], str]:
    """The table entry at ``bond_length``, else one computed with the chem extra."""
    for entry in h2_table()["entries"]:
        if abs(entry["bond_length"] - bond_length) <= _GRID_TOLERANCE:
            return entry, "table"
    from qtrain.problems import h2_chem  # noqa: PLC0415  # only off-grid lengths need it

    try:
        return h2_chem.compute_entry(bond_length), "computed"
    except ModuleNotFoundError as exc:
        grid = ", ".join(f"{length:g}" for length in H2_BOND_LENGTHS)
        raise ConfigError(
            f"bond_length {bond_length!r} Å is not on the tabulated grid ({grid} Å); other "
            f"lengths are computed with PySCF and OpenFermion, which are not installed "
            f"({exc}): pip install 'qtrain[chem]'"
        ) from exc


def _hartree_fock_preimage(body: Circuit) -> tuple[int, ...]:
    """Wires to flip so that ``body`` at θ = 0 maps the flipped state to ``|1100⟩``.

    At θ = 0 the rotations of a hardware-efficient body are identities or phases on basis
    states, so only its CNOTs act, as a permutation of bit strings: undo them in reverse.
    """
    bits = [1, 1, 0, 0]
    for op in reversed(body.ops):
        if op.gate == "CNOT":
            control, target = op.wires
            bits[target] ^= bits[control]
    return tuple(wire for wire, bit in enumerate(bits) if bit)


def _circuit(ansatz: str, layers: int, seed: int) -> tuple[Circuit, NDArray[np.float64]]:
    if ansatz == "ucc":
        return h2_ansatz(), np.zeros(1)
    if ansatz == "hea":
        body = hardware_efficient(4, check_int(layers, "layers", 1))
        prep = Circuit(4)
        for wire in _hartree_fock_preimage(body):
            prep = prep.x(wire)
        theta0 = np.random.default_rng(check_seed(seed)).uniform(-0.1, 0.1, size=body.n_params)
        return prep.compose(body), theta0
    raise ConfigError(f"ansatz must be one of {list(H2_ANSATZE)}, got {ansatz!r}")


class H2Problem(Problem):
    """An H₂ VQE problem; :meth:`report` compares the energy with FCI."""

    def report(self, term_values: NDArray[np.float64]) -> dict[str, float]:
        """``loss``, ``energy``, ``error_vs_fci`` (Ha) and ``chemical_accuracy`` (1.0 or 0.0)."""
        energy = self.loss_value(term_values)
        assert self.exact_value is not None  # always set by h2()
        error = energy - self.exact_value
        accurate = 1.0 if abs(error) <= CHEMICAL_ACCURACY else 0.0
        return {
            "loss": energy,
            "energy": energy,
            "error_vs_fci": error,
            "chemical_accuracy": accurate,
        }


def h2(
    bond_length: float = H2_EQUILIBRIUM, *, ansatz: str = "ucc", layers: int = 2, seed: int = 0
) -> H2Problem:
    """H₂ (STO-3G, Jordan–Wigner, 4 qubits) at ``bond_length`` Å, minimising ``⟨H⟩``.

    Args:
        bond_length: in ångström; a grid point of :data:`H2_BOND_LENGTHS` or, with the
            ``chem`` extra installed, any positive length (computed with PySCF/OpenFermion).
        ansatz: ``"ucc"``: Hartree–Fock ``|1100⟩`` plus the one double excitation
            (:func:`h2_ansatz`, one parameter, θ₀ = 0 is Hartree–Fock). UCC singles are
            left out: 1σg → 1σu breaks the inversion symmetry of the ground state, so their
            amplitudes vanish at every bond length. ``"hea"``: X gates preparing the bit
            string that the CNOTs of :func:`~qtrain.ir.ansatz.hardware_efficient` map to
            ``|1100⟩``, then that ansatz (``layers`` layers of RY, RZ, CNOT ladder), so
            θ = 0 is Hartree–Fock too.
        layers: hardware-efficient layers (``"hea"`` only).
        seed: seeds θ₀ for ``"hea"``: uniform in ``[−0.1, 0.1]``.

    Returns:
        A one-term ``"expval"`` problem; ``exact_value`` is the FCI energy (the lowest
        eigenvalue of ``H``), ``metadata`` holds the bond length, reference energies and
        where the coefficients came from (``"table"`` or ``"computed"``).

    Raises:
        ConfigError: a bad bond length, ansatz name, ``layers`` (int >= 1) or ``seed``
            (int >= 0); an off-grid length without the ``chem`` extra (the message lists
            the grid).

    >>> p = h2(0.7414)
    >>> p.n_params, p.metadata["source"], round(p.metadata["hf_energy"], 6)
    (1, 'table', -1.116684)
    >>> h2(1.5, ansatz="hea", layers=1).n_params
    8
    """
    length = _bond_length(bond_length)
    circuit, theta0 = _circuit(ansatz, layers, seed)
    entry, source = _entry(length)
    metadata = {
        "bond_length": length,
        "units": {"bond_length": "angstrom", "energy": "hartree"},
        "basis": "sto-3g",
        "mapping": "jordan-wigner",
        "ansatz": ansatz,
        "layers": layers if ansatz == "hea" else None,
        "seed": seed if ansatz == "hea" else None,
        "hf_energy": float(entry["hf_energy"]),
        "fci_energy": float(entry["fci_energy"]),
        "nuclear_repulsion": float(entry["nuclear_repulsion"]),
        "source": source,
    }
    return H2Problem(
        name="h2",
        description=f"H2 STO-3G at {length:g} Å, Jordan-Wigner, 4 qubits, {ansatz} ansatz",
        circuits=(circuit,),
        observables=(hamiltonian_from_terms(entry["terms"]),),
        theta0=theta0,
        loss="expval",
        exact_value=float(entry["fci_energy"]),
        metadata=metadata,
    )
