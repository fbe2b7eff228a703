"""The compiled kernels against the numpy reference kernels, serial and parallel paths."""

import numpy as np
import pytest

from qtrain.ir.gates import GATES
from qtrain.sim import fast_kernels, kernels

RNG = np.random.default_rng(17)
# (n, rows): small calls take the serial version, large ones the parallel version (from 2^14
# amplitudes per call, 2^19 for calls on fewer than 8 rows).
SIZES = [(3, 1), (5, 4), (15, 1), (11, 16), (19, 1), (17, 4)]


def random_states(rows, n):
    return RNG.normal(size=(rows, 2**n)) + 1j * RNG.normal(size=(rows, 2**n))


def random_matrices(rows, dim):
    return RNG.normal(size=(rows, dim, dim)) + 1j * RNG.normal(size=(rows, dim, dim))


@pytest.mark.parametrize(("n", "rows"), SIZES)
@pytest.mark.parametrize("shared", [True, False])
def test_fast_kernels_one_qubit_matches_reference(n, rows, shared):
    states = random_states(rows, n)
    mats = random_matrices(1 if shared else rows, 2)
    for wire in {0, n // 2, n - 1}:
        expected = kernels.apply_one_qubit(states, mats, wire, n)
        got = fast_kernels.apply_one_qubit(states.copy(), mats, wire, n)
        np.testing.assert_allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize(("n", "rows"), SIZES)
@pytest.mark.parametrize("wires", [(0,), (2, 1), (1, 2, 0)])
def test_fast_kernels_dense_and_diagonal_match_reference(n, rows, wires):
    states = random_states(rows, n)
    mats = random_matrices(rows, 2 ** len(wires))
    np.testing.assert_allclose(
        fast_kernels.apply_matrix(states.copy(), mats, wires, n),
        kernels.apply_matrix(states, mats, wires, n),
        atol=1e-11,
    )
    diag = np.exp(1j * RNG.normal(size=(1, 2 ** len(wires))))
    np.testing.assert_allclose(
        fast_kernels.apply_diagonal(states.copy(), diag, wires, n),
        kernels.apply_diagonal(states.copy(), diag, wires, n),
        atol=1e-12,
    )


@pytest.mark.parametrize(("n", "rows"), SIZES)
def test_fast_kernels_gather_and_weighted_sum_match_reference(n, rows):
    states = random_states(rows, n)
    source = RNG.permutation(2**n)
    np.testing.assert_array_equal(
        fast_kernels.apply_permutation(states, source), kernels.apply_permutation(states, source)
    )
    weights = RNG.normal(size=2**n)
    np.testing.assert_allclose(
        fast_kernels.weighted_probabilities(states, weights),
        kernels.weighted_probabilities(states, weights),
        rtol=1e-12,
    )


def test_fast_kernels_compile_serial_and_parallel_versions_separately():
    for serial, parallel in fast_kernels._KERNELS.values():
        assert serial.py_func.__name__.endswith("_serial")
        assert parallel.py_func.__name__.endswith("_parallel")


@pytest.mark.parametrize(("n", "rows"), SIZES)
def test_fast_kernels_cnot_matches_reference(n, rows):
    states = random_states(rows, n)
    for control, target in {(0, n - 1), (n - 1, 0), (n // 2, (n // 2 + 1) % n)}:
        if control == target:
            continue
        np.testing.assert_array_equal(
            fast_kernels.apply_cnot(states.copy(), control, target, n),
            kernels.apply_cnot(states, control, target, n),
        )


@pytest.mark.parametrize(("n", "observables"), [(3, 1), (5, 3), (15, 1), (14, 2)])
@pytest.mark.parametrize("name", ["RZ", "PhaseShift", "RY", "RX"])
def test_fast_kernels_adjoint_steps_match_reference(n, observables, name):
    spec = GATES[name]
    generator, inverse = spec.generator, spec.matrix(-1.37).conj().T
    both = random_states(1 + observables, n)
    for wire in {0, n // 2, n - 1}:
        if name == "RX":  # no special structure: the generic step
            got = fast_kernels.adjoint_one_qubit(both.copy(), generator, inverse, wire, n)
            expected = kernels.adjoint_one_qubit(both.copy(), generator, inverse, wire, n)
        elif name == "RY":
            args = (float(generator[1, 0].imag), inverse.real.copy(), wire, n)
            got = fast_kernels.adjoint_real(both.copy(), *args)
            expected = kernels.adjoint_real(both.copy(), *args)
        else:
            args = (np.diagonal(generator).real.copy(), np.diagonal(inverse).copy(), wire, n)
            got = fast_kernels.adjoint_diagonal(both.copy(), *args)
            expected = kernels.adjoint_diagonal(both.copy(), *args)
        # Sums over up to 2^15 random amplitudes of size ~1: compare relative to their scale.
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-12, atol=1e-12 * 2**n)
        np.testing.assert_allclose(got[1], expected[1], atol=1e-12)


def test_fast_kernels_specialised_adjoint_steps_need_an_observable_row():
    both = random_states(1, 2)
    with pytest.raises(ValueError, match="λ row"):
        fast_kernels.adjoint_diagonal(both, np.array([0.5, -0.5]), np.ones(2, complex), 0, 2)
    with pytest.raises(ValueError, match="λ row"):
        fast_kernels.adjoint_real(both, 0.5, np.eye(2), 0, 2)


@pytest.mark.parametrize("name", ["_adjoint_step", "_adjoint_diag", "_adjoint_real"])
def test_fast_kernels_adjoint_steps_parallel_versions_match_serial(name):
    # The adjoint steps go parallel only from 2^19 amplitudes: call both versions directly.
    n, wire = 10, 4
    spec = GATES["RX" if name == "_adjoint_step" else "RZ" if name == "_adjoint_diag" else "RY"]
    generator, inverse = spec.generator, spec.matrix(0.61).conj().T
    operands = {
        "_adjoint_step": (generator, inverse),
        "_adjoint_diag": (np.diagonal(generator).real.copy(), np.diagonal(inverse).copy()),
        "_adjoint_real": (float(generator[1, 0].imag), inverse.real.copy()),
    }[name]
    serial, parallel = fast_kernels._KERNELS[name]
    both = random_states(3, n)
    expected_states, expected = both.copy(), np.empty((2, 1), dtype=np.complex128)
    serial(expected_states, *operands, n - 1 - wire, expected)
    for parts in (2, 3, 8):
        states, partial = both.copy(), np.empty((2, parts), dtype=np.complex128)
        parallel(states, *operands, n - 1 - wire, partial)
        np.testing.assert_array_equal(states, expected_states)
        np.testing.assert_allclose(partial.sum(axis=1), expected[:, 0], rtol=1e-12)
