import numpy as np
import pytest

from qtrain.ir.gates import GATES
from qtrain.sim import kernels

RNG = np.random.default_rng(11)


def random_states(rows, n):
    s = RNG.normal(size=(rows, 2**n)) + 1j * RNG.normal(size=(rows, 2**n))
    return s / np.linalg.norm(s, axis=1, keepdims=True)


def dense(matrix, wires, n):
    """Full matrix of a gate by explicit index arithmetic (independent of the kernels)."""
    k, dim = len(wires), 2**n
    full = np.zeros((dim, dim), dtype=complex)
    for col in range(dim):
        local_in = sum(((col >> (n - 1 - w)) & 1) << (k - 1 - i) for i, w in enumerate(wires))
        for local_out in range(2**k):
            row = col
            for i, w in enumerate(wires):
                bit = (local_out >> (k - 1 - i)) & 1
                row = (row & ~(1 << (n - 1 - w))) | (bit << (n - 1 - w))
            full[row, col] += matrix[local_out, local_in]
    return full


@pytest.mark.parametrize("n", [1, 3, 5])
def test_kernels_one_qubit_per_row_matrices(n):
    states = random_states(3, n)
    mats = RNG.normal(size=(3, 2, 2)) + 1j * RNG.normal(size=(3, 2, 2))
    for wire in range(n):
        out = kernels.apply_one_qubit(states, mats, wire, n)
        for b in range(3):
            np.testing.assert_allclose(out[b], dense(mats[b], (wire,), n) @ states[b], atol=1e-12)


@pytest.mark.parametrize("wires", [(0, 1), (3, 1), (2, 0, 3), (1, 3, 0)])
def test_kernels_matrix_and_diagonal_on_unsorted_wires(wires):
    n, k = 4, len(wires)
    states = random_states(2, n)
    mats = RNG.normal(size=(1, 2**k, 2**k)) + 0j
    out = kernels.apply_matrix(states, mats, wires, n)
    np.testing.assert_allclose(out, states @ dense(mats[0], wires, n).T, atol=1e-12)
    diag = np.exp(1j * RNG.normal(size=(2, 2**k)))
    expected = np.stack([dense(np.diag(diag[b]), wires, n) @ states[b] for b in range(2)])
    np.testing.assert_allclose(kernels.apply_diagonal(states.copy(), diag, wires, n), expected)


def test_kernels_permutation_source_of_cnot_ladder_is_gray_code():
    n = 5
    cnot = np.eye(4)[[0, 1, 3, 2]].astype(complex)
    source = kernels.permutation_source([(cnot, (q, q + 1)) for q in range(n - 1)], n)
    j = np.arange(2**n)
    # After the ladder, new[j] = old[j ^ (j >> 1)] (fast-kernels.md: the Gray-code gather).
    np.testing.assert_array_equal(source, j ^ (j >> 1))
    states = random_states(2, n)
    np.testing.assert_array_equal(kernels.apply_permutation(states, source), states[:, source])


def test_kernels_zero_states():
    s = kernels.zero_states(2, 3)
    assert s.shape == (2, 8) and s[:, 0].tolist() == [1, 1] and np.count_nonzero(s) == 2


def gate_step_operands(name, angle):
    """Generic operands (G, U†) and the specialised kernels' (diag or Y weight, U†) of a gate."""
    spec = GATES[name]
    generator, inverse = spec.generator, spec.matrix(angle).conj().T
    if spec.diagonal:
        return generator, inverse, np.diagonal(generator).real.copy(), np.diagonal(inverse).copy()
    return generator, inverse, float(generator[1, 0].imag), inverse.real.copy()


@pytest.mark.parametrize(("n", "observables"), [(1, 1), (3, 2), (5, 3)])
@pytest.mark.parametrize("name", ["RZ", "PhaseShift", "RY"])
def test_kernels_specialised_adjoint_steps_match_generic_and_dense(n, observables, name):
    special = kernels.adjoint_real if name == "RY" else kernels.adjoint_diagonal
    generator, inverse, gen_form, inv_form = gate_step_operands(name, 0.83)
    both = random_states(1 + observables, n)
    for wire in range(n):
        inner, moved = special(both.copy(), gen_form, inv_form, wire, n)
        generic_inner, generic_moved = kernels.adjoint_one_qubit(
            both.copy(), generator, inverse, wire, n
        )
        np.testing.assert_allclose(inner, generic_inner, atol=1e-12)
        np.testing.assert_allclose(moved, generic_moved, atol=1e-12)
        g, u_dagger = dense(generator, (wire,), n), dense(inverse, (wire,), n)
        np.testing.assert_allclose(inner, both[1:].conj() @ (g @ both[0]), atol=1e-12)
        np.testing.assert_allclose(moved, both @ u_dagger.T, atol=1e-12)


def test_kernels_specialised_adjoint_steps_need_an_observable_row():
    both = random_states(1, 2)
    with pytest.raises(ValueError, match="λ row"):
        kernels.adjoint_diagonal(both, np.array([0.5, -0.5]), np.ones(2, complex), 0, 2)
    with pytest.raises(ValueError, match="λ row"):
        kernels.adjoint_real(both, 0.5, np.eye(2), 0, 2)
