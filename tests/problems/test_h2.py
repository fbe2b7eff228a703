import importlib.resources
import importlib.util
import inspect
import json
import sys

import numpy as np
import pytest
from scipy.optimize import minimize, minimize_scalar

import qtrain as qt
from qtrain.problems.h2 import (
    CHEMICAL_ACCURACY,
    H2_BOND_LENGTHS,
    H2_FCI_ENERGY,
    H2_HF_ENERGY,
    h2,
    h2_ansatz,
    h2_hamiltonian,
    h2_table,
    hamiltonian_from_terms,
)
from qtrain.problems.h2_chem import compute_entry
from qtrain.testing import reference_expval, reference_observable_matrix

# OpenFermion's own H2 data (openfermion/testing/data/H2_sto-3g_singlet_0.7414.hdf5, made
# with another quantum-chemistry code), Jordan-Wigner transformed: an independent reference.
OPENFERMION_0_7414 = {
    "fci": -1.137270174625328,
    "hf": -1.116684386906734,
    "terms": {
        "I": -0.09886397351781592,
        "Z0": 0.17119774853325856,
        "Z1": 0.17119774853325856,
        "Z2": -0.22278592890107016,
        "Z3": -0.22278592890107016,
        "Z0 Z1": 0.16862219143347554,
        "Z0 Z2": 0.12054482186554413,
        "Z0 Z3": 0.16586702396410954,
        "Z1 Z2": 0.16586702396410954,
        "Z1 Z3": 0.12054482186554413,
        "Z2 Z3": 0.17434844170557132,
        "X0 X1 Y2 Y3": -0.04532220209856541,
        "X0 Y1 Y2 X3": 0.04532220209856541,
        "Y0 X1 X2 Y3": 0.04532220209856541,
        "Y0 Y1 X2 X3": -0.04532220209856541,
    },
}


def _entry(length):
    return next(e for e in h2_table()["entries"] if e["bond_length"] == length)


def _has_chem():
    return all(importlib.util.find_spec(name) for name in ("pyscf", "openfermion"))


def test_h2_constants_match_dense_diagonalisation():
    h = h2_hamiltonian()
    assert len(h.terms) == 15
    dense = reference_observable_matrix(h, 4)
    assert np.linalg.eigvalsh(dense)[0] == pytest.approx(H2_FCI_ENERGY, abs=1e-10)
    assert dense[0b1100, 0b1100].real == pytest.approx(H2_HF_ENERGY, abs=1e-10)


def test_h2_ansatz_starts_at_hartree_fock_and_reaches_ground_state():
    c, h = h2_ansatz(), h2_hamiltonian()
    assert c.n_params == 1
    assert qt.expval(c, h, [0.0]) == pytest.approx(H2_HF_ENERGY, abs=1e-10)
    best = minimize_scalar(
        lambda t: qt.expval(c, h, [t]), bounds=(-1, 1), method="bounded", options={"xatol": 1e-9}
    )
    assert best.fun == pytest.approx(H2_FCI_ENERGY, abs=1e-9)
    assert best.x == pytest.approx(0.20973, abs=1e-4)


def test_h2_legacy_hamiltonian_is_the_generated_0_7_angstrom_entry():
    # The fixed Hamiltonian (PennyLane/OpenFermion's example coefficients) is R = 0.70 Å.
    legacy = h2_hamiltonian()
    generated = hamiltonian_from_terms(_entry(0.7)["terms"])
    assert [t for t, _ in legacy.terms] == [t for t, _ in generated.terms]
    np.testing.assert_allclose(
        legacy.real_coefficients(), generated.real_coefficients(), rtol=0, atol=1e-12
    )
    assert _entry(0.7)["fci_energy"] == pytest.approx(H2_FCI_ENERGY, abs=1e-12)
    assert _entry(0.7)["hf_energy"] == pytest.approx(H2_HF_ENERGY, abs=1e-12)
    assert abs(h2().exact_value - H2_FCI_ENERGY) > 1e-3  # 0.7414 Å is a different geometry


def test_h2_equilibrium_matches_openfermion_reference_data():
    entry = _entry(0.7414)
    assert entry["fci_energy"] == pytest.approx(OPENFERMION_0_7414["fci"], abs=1e-9)
    assert entry["hf_energy"] == pytest.approx(OPENFERMION_0_7414["hf"], abs=1e-9)
    assert set(entry["terms"]) == set(OPENFERMION_0_7414["terms"])
    for word, coefficient in OPENFERMION_0_7414["terms"].items():
        assert entry["terms"][word] == pytest.approx(coefficient, abs=1e-8), word


def test_h2_grid_includes_equilibrium_which_is_the_default():
    assert 0.7414 in H2_BOND_LENGTHS
    assert inspect.signature(h2).parameters["bond_length"].default == 0.7414
    assert h2().metadata["bond_length"] == 0.7414
    steps = [round(0.3 + 0.1 * i, 10) for i in range(23)]
    assert sorted(H2_BOND_LENGTHS) == sorted([*steps, 0.7414])
    assert list(H2_BOND_LENGTHS) == sorted(H2_BOND_LENGTHS)
    assert h2(0.1 * 7).metadata["source"] == "table"  # 0.7000000000000001 is on the grid


@pytest.mark.parametrize("length", [0.3, 0.7414, 1.0, 1.8, 2.5])
def test_h2_exact_value_is_lowest_eigenvalue(length):
    problem = h2(length)
    dense = reference_observable_matrix(problem.observables[0], 4)
    assert np.linalg.eigvalsh(dense)[0] == pytest.approx(problem.exact_value, abs=1e-9)
    assert dense[0b1100, 0b1100].real == pytest.approx(problem.metadata["hf_energy"], abs=1e-9)
    assert problem.metadata["source"] == "table"


@pytest.mark.parametrize("length", [0.5, 0.7414, 1.5, 2.5])
def test_h2_ucc_reaches_fci(length):
    problem = h2(length)
    circuit, hamiltonian = problem.circuits[0], problem.observables[0]
    assert problem.theta0.tolist() == [0.0]
    assert qt.expval(circuit, hamiltonian, problem.theta0) == pytest.approx(
        problem.metadata["hf_energy"], abs=1e-10
    )
    best = minimize_scalar(
        lambda t: qt.expval(circuit, hamiltonian, [t]),
        bounds=(-np.pi, np.pi),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert best.fun == pytest.approx(problem.exact_value, abs=1e-6)
    assert reference_expval(circuit, hamiltonian, np.array([best.x])) == pytest.approx(
        problem.exact_value, abs=1e-6
    )


def test_h2_dissociation_curve_has_its_minimum_near_equilibrium():
    fci = np.array([_entry(length)["fci_energy"] for length in H2_BOND_LENGTHS])
    lengths = np.array(H2_BOND_LENGTHS)
    assert lengths[np.argmin(fci)] == 0.7414
    below, above = fci[lengths <= 0.7414], fci[lengths >= 0.7414]
    assert np.all(np.diff(below) < 0) and np.all(np.diff(above) > 0)
    # Dissociation: towards two STO-3G hydrogen atoms (2 × −0.46658 Ha), from below.
    assert -0.94 < fci[-1] < -0.933
    hf = np.array([_entry(length)["hf_energy"] for length in H2_BOND_LENGTHS])
    assert np.all(hf >= fci)  # variational


def test_h2_hea_starts_at_hartree_fock_with_seeded_small_angles():
    problem = h2(ansatz="hea", layers=2, seed=3)
    circuit, hamiltonian = problem.circuits[0], problem.observables[0]
    assert problem.n_params == circuit.n_params == 16
    zero = np.zeros(problem.n_params)
    assert qt.expval(circuit, hamiltonian, zero) == pytest.approx(
        problem.metadata["hf_energy"], abs=1e-10
    )
    assert np.max(np.abs(problem.theta0)) <= 0.1
    np.testing.assert_array_equal(problem.theta0, h2(ansatz="hea", layers=2, seed=3).theta0)
    assert not np.array_equal(problem.theta0, h2(ansatz="hea", layers=2, seed=4).theta0)
    for layers in (1, 3):
        c = h2(ansatz="hea", layers=layers).circuits[0]
        energy = reference_expval(c, hamiltonian, np.zeros(c.n_params))
        assert energy == pytest.approx(problem.metadata["hf_energy"], abs=1e-10)


def test_h2_hea_reaches_fci_from_theta0():
    problem = h2(ansatz="hea", layers=2)
    circuit, hamiltonian = problem.circuits[0], problem.observables[0]
    best = minimize(
        lambda t: qt.expval(circuit, hamiltonian, t),
        problem.theta0,
        jac=lambda t: qt.grad(circuit, hamiltonian, t, method="adjoint").value,
        method="BFGS",
        options={"gtol": 1e-9},
    )
    assert best.fun == pytest.approx(problem.exact_value, abs=1e-6)
    assert problem.report(np.array([best.fun]))["chemical_accuracy"] == 1.0


def test_h2_report():
    problem = h2()
    fci, hf = problem.exact_value, problem.metadata["hf_energy"]
    at_fci = problem.report(np.array([fci]))
    assert at_fci["energy"] == fci and at_fci["error_vs_fci"] == 0.0
    assert at_fci["chemical_accuracy"] == 1.0
    assert problem.report(np.array([fci + 0.9 * CHEMICAL_ACCURACY]))["chemical_accuracy"] == 1.0
    at_hf = problem.report(np.array([hf]))
    assert at_hf["error_vs_fci"] == pytest.approx(hf - fci)
    assert at_hf["chemical_accuracy"] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"bond_length": -1.0}, "positive"),
        ({"bond_length": float("nan")}, "positive"),
        ({"bond_length": "0.74"}, "real number"),
        ({"bond_length": True}, "real number"),
        ({"ansatz": "uccsd"}, r"\['ucc', 'hea'\]"),
        ({"ansatz": "hea", "layers": 0}, "layers"),
        ({"ansatz": "hea", "seed": -1}, "seed"),
    ],
)
def test_h2_rejects_bad_input(kwargs, text):
    with pytest.raises(qt.ConfigError, match=text):
        h2(**kwargs)


def test_h2_off_grid_without_chem_lists_the_grid(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyscf", None)  # import pyscf now raises ImportError
    monkeypatch.setitem(sys.modules, "openfermion", None)
    with pytest.raises(qt.ConfigError, match=r"0\.75.*0\.3, 0\.4.*0\.7, 0\.7414, 0\.8.*2\.5") as e:
        h2(0.75)
    assert "qtrain[chem]" in str(e.value)
    assert h2(0.7414).metadata["source"] == "table"  # grid points need no chem


@pytest.mark.skipif(not _has_chem(), reason="needs the chem extra (pyscf, openfermion)")
def test_h2_off_grid_is_computed_with_chem():
    problem = h2(0.75)
    assert problem.metadata["source"] == "computed"
    dense = reference_observable_matrix(problem.observables[0], 4)
    assert np.linalg.eigvalsh(dense)[0] == pytest.approx(problem.exact_value, abs=1e-9)
    assert h2(0.7414).exact_value < problem.exact_value < h2(0.8).exact_value
    # The shipped table is what the generator makes now (tools/gen_h2_table.py --check).
    for length in (0.3, 0.7414, 2.5):
        fresh, stored = compute_entry(length), _entry(length)
        assert fresh["fci_energy"] == pytest.approx(stored["fci_energy"], abs=1e-9)
        assert set(fresh["terms"]) == set(stored["terms"])
        for word, coefficient in stored["terms"].items():
            assert fresh["terms"][word] == pytest.approx(coefficient, abs=1e-9)


def test_h2_data_file_round_trips():
    source = importlib.resources.files("qtrain.problems").joinpath("data/h2_sto3g.json")
    data = json.loads(source.read_text(encoding="utf-8"))
    lengths = [entry["bond_length"] for entry in data["entries"]]
    assert lengths == sorted(set(lengths))  # one entry per bond length, in order (lookup)
    assert data["format"] == "qtrain.h2_sto3g/1" and data["hf_state"] == "1100"
    generator = data["generator"]
    assert generator["command"] == "python tools/gen_h2_table.py"
    assert {"python", "numpy", "pyscf", "openfermion"} <= set(generator["versions"])
    for entry in data["entries"]:
        observable = hamiltonian_from_terms(entry["terms"])
        assert observable.n_terms == len(entry["terms"]) == 15
        back = {str(term): c.real for term, c in observable.terms}
        assert back == entry["terms"]
        assert qt.Observable.from_dict(observable.to_dict()) == observable
        # Nuclear repulsion 1/R in atomic units (PySCF's bohr, 0.52917721092 Å).
        assert entry["nuclear_repulsion"] == pytest.approx(
            0.52917721092 / entry["bond_length"], rel=1e-9
        )
