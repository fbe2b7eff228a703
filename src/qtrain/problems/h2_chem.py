"""H₂ qubit Hamiltonians from first principles, with PySCF and OpenFermion (``qtrain[chem]``).

One function, :func:`compute_entry`, makes one entry of the tabulated data
(``data/h2_sto3g.json``): PySCF runs restricted Hartree–Fock for H₂ in STO-3G and transforms
the integrals to the molecular orbitals (1σg, 1σu); OpenFermion builds the second-quantised
Hamiltonian on spin orbitals interleaved as (1σg↑, 1σg↓, 1σu↑, 1σu↓) and maps it with the
Jordan–Wigner transform, spin orbital ``i`` → wire ``i``, occupied = ``|1⟩``. The
Hartree–Fock state is therefore ``|1100⟩``. The same function serves the generator script
(``tools/gen_h2_table.py``) and off-grid bond lengths at run time, so both agree by
construction.

The chemistry packages are imported lazily (``importlib``), so qtrain imports, type-checks
and runs without them; :func:`compute_entry` raises ``ModuleNotFoundError`` when they are
missing.
"""

from __future__ import annotations

import importlib
import platform
from typing import Any

import numpy as np

__all__ = ["DROP_BELOW", "SCF_CONV_TOL", "chem_versions", "compute_entry"]

SCF_CONV_TOL = 1e-12
"""PySCF's SCF energy convergence threshold (Hartree)."""

DROP_BELOW = 1e-12
"""Pauli coefficients smaller than this (symmetry-forbidden integrals' round-off) are dropped."""

_CHECK_TOLERANCE = 1e-8  # FCI vs the qubit matrix's lowest eigenvalue; HF vs ⟨1100|H|1100⟩


def chem_versions() -> dict[str, str]:
    """The versions of the packages :func:`compute_entry` uses (raises if one is missing)."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pyscf": str(importlib.import_module("pyscf").__version__),
        "openfermion": str(importlib.import_module("openfermion").__version__),
    }


def _word(term: tuple[tuple[int, str], ...]) -> str:
    return " ".join(f"{letter}{wire}" for wire, letter in term) or "I"


def _diagonal_energy(terms: list[tuple[str, float]], occupied: tuple[int, ...]) -> float:
    """``⟨x|H|x⟩`` for a computational basis state: Z-only words, ``Z|1⟩ = −|1⟩``."""
    energy = 0.0
    for word, coefficient in terms:
        factors = [] if word == "I" else word.split()
        if all(f[0] == "Z" for f in factors):
            sign = 1.0
            for factor in factors:
                sign *= -1.0 if int(factor[1:]) in occupied else 1.0
            energy += sign * coefficient
    return energy


def compute_entry(bond_length: float) -> dict[str, Any]:
    """One table entry for H₂ at ``bond_length`` Å: Pauli terms and reference energies.

    Returns:
        ``{"bond_length", "nuclear_repulsion", "hf_energy", "fci_energy", "terms"}`` with
        ``terms`` a ``{word: coefficient}`` mapping (``word`` like ``"X0 X1 Y2 Y3"``, ``"I"``
        for the identity; ordered by weight, then word), energies in Hartree (the identity
        term includes the nuclear repulsion).

    Raises:
        ModuleNotFoundError: PySCF or OpenFermion is not installed.
        RuntimeError: a self-check failed (SCF not converged, or the FCI energy is not the
            lowest eigenvalue of the qubit Hamiltonian, or HF is not ``⟨1100|H|1100⟩``).
    """
    # The top-level packages first: a submodule already in sys.modules would import even
    # where the package has been made unimportable (which is how the tests hide the extra).
    openfermion = importlib.import_module("openfermion")
    importlib.import_module("pyscf")
    gto, scf, ao2mo, fci = (
        importlib.import_module(f"pyscf.{m}") for m in ("gto", "scf", "ao2mo", "fci")
    )

    mol = gto.M(atom=f"H 0 0 0; H 0 0 {bond_length!r}", basis="sto-3g", unit="Angstrom", verbose=0)
    mf = scf.RHF(mol)
    mf.conv_tol = SCF_CONV_TOL
    mf.kernel()
    if not mf.converged:
        raise RuntimeError(f"H2 RHF did not converge at {bond_length} Å")
    coefficients = mf.mo_coeff
    n_orbitals = coefficients.shape[1]
    one_body = coefficients.T @ mf.get_hcore() @ coefficients
    chemist = ao2mo.restore(1, ao2mo.kernel(mol, coefficients), n_orbitals)  # (pq|rs)
    # OpenFermion's order: h[p,q,r,s] multiplies a†_p a†_q a_r a_s, i.e. (ps|qr).
    physicist = np.asarray(chemist.transpose(0, 2, 3, 1), order="C")
    one_so, two_so = openfermion.chem.molecular_data.spinorb_from_spatial(one_body, physicist)
    fermionic = openfermion.InteractionOperator(float(mol.energy_nuc()), one_so, 0.5 * two_so)
    qubit = openfermion.jordan_wigner(fermionic)
    kept = [(_word(term), float(np.real(c))) for term, c in qubit.terms.items()]
    terms = sorted(
        ((word, c) for word, c in kept if abs(c) > DROP_BELOW),
        key=lambda item: (0 if item[0] == "I" else len(item[0].split()), item[0]),
    )
    fci_energy = float(fci.FCI(mf).kernel()[0])
    sparse = openfermion.get_sparse_operator(qubit, n_qubits=4).toarray()
    lowest = float(np.linalg.eigvalsh(sparse)[0])
    hf_energy = float(mf.e_tot)
    if abs(lowest - fci_energy) > _CHECK_TOLERANCE:
        raise RuntimeError(f"FCI {fci_energy} != lowest qubit eigenvalue {lowest} at {bond_length}")
    if abs(_diagonal_energy(terms, (0, 1)) - hf_energy) > _CHECK_TOLERANCE:
        raise RuntimeError(f"HF energy {hf_energy} != <1100|H|1100> at {bond_length} Å")
    return {
        "bond_length": float(bond_length),
        "nuclear_repulsion": float(mol.energy_nuc()),
        "hf_energy": hf_energy,
        "fci_energy": fci_energy,
        "terms": dict(terms),
    }
