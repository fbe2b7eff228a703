import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import qtrain as qt
from qtrain.problems.h2 import H2_FCI_ENERGY, H2_HF_ENERGY, h2_ansatz, h2_hamiltonian
from qtrain.testing import reference_observable_matrix


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
