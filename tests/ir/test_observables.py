"""Tests for qtrain.ir.observables (and the Pauli words of qtrain.ir.pauli).

The algebra is checked against a dense-matrix oracle: every observable is expanded to its
``2ⁿ x 2ⁿ`` matrix with wire 0 as the most significant (leftmost) Kronecker factor.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qtrain.errors import (
    NonHermitianError,
    ObservableError,
    ObservableParseError,
    ObservableWireError,
)
from qtrain.ir.observables import I, MeasurementGroup, Observable, PauliTerm, X, Y, Z
from qtrain.ir.pauli import multiply_terms

# --- dense-matrix oracle -------------------------------------------------------------------

PAULI = {
    "I": np.eye(2, dtype=np.complex128),
    "X": np.array([[0, 1], [1, 0]], dtype=np.complex128),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=np.complex128),
    "Z": np.array([[1, 0], [0, -1]], dtype=np.complex128),
}
N_WIRES = 4  # random observables act on wires 0..3, so dense matrices are at most 16 x 16


def dense_word(term: PauliTerm, n: int) -> npt.NDArray[np.complex128]:
    letters = dict(term.factors)
    out: npt.NDArray[Any] = np.eye(1, dtype=np.complex128)
    for wire in range(n):  # wire 0 ends up as the leftmost (most significant) factor
        out = np.kron(out, PAULI[letters.get(wire, "I")])
    return out


def dense(obs: Observable, n: int = N_WIRES) -> npt.NDArray[np.complex128]:
    assert obs.max_wire < n
    out = np.zeros((2**n, 2**n), dtype=np.complex128)
    for term, coefficient in obs.terms:
        out += coefficient * dense_word(term, n)
    return out


def word(text: str) -> PauliTerm:
    """``word("Z0 X2")`` → the PauliTerm, for readable expectations."""
    if text == "I":
        return PauliTerm(())
    return PauliTerm(tuple((int(f[1:]), f[0]) for f in text.split()))


# --- hypothesis strategies -----------------------------------------------------------------

words = st.lists(st.sampled_from("IXYZ"), min_size=N_WIRES, max_size=N_WIRES).map(
    lambda letters: PauliTerm(tuple((w, p) for w, p in enumerate(letters) if p != "I"))
)
real_coefficients = st.one_of(
    st.floats(-10, 10, allow_nan=False, allow_infinity=False),
    st.integers(-5, 5),
    st.sampled_from([0.1, -1.2, 1.0, -1.0, 1e-3, 2.5e7, 1 / 3]),
)
complex_coefficients = st.builds(complex, real_coefficients, real_coefficients)


def observables(
    coefficients: st.SearchStrategy[complex] | st.SearchStrategy[float] = real_coefficients,
) -> st.SearchStrategy[Observable]:
    return st.lists(st.tuples(words, coefficients), max_size=6).map(Observable.from_terms)


SETTINGS = settings(deadline=None, max_examples=150)


def assert_dense_close(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> None:
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * max(1.0, float(np.abs(b).max())))


# --- PauliTerm -----------------------------------------------------------------------------


def test_pauli_term_reports_wires_weight_and_text() -> None:
    term = PauliTerm(((0, "Z"), (3, "X")))
    assert term.wires == (0, 3)
    assert (term.weight, PauliTerm(()).weight) == (2, 0)
    assert str(term) == "Z0 X3"
    assert str(PauliTerm(())) == "I"


@pytest.mark.parametrize(
    ("factors", "needle"),
    [
        (((1, "Z"), (0, "Z")), "increasing"),
        (((0, "Z"), (0, "X")), "increasing"),
        (((0, "I"),), "'I'"),
        (((0, "x"),), "'x'"),
        (((0, "XY"),), "'XY'"),
        (((0,),), "(0,)"),
    ],
)
def test_pauli_term_rejects_malformed_factors(factors: object, needle: str) -> None:
    with pytest.raises(ObservableError, match=None) as info:
        PauliTerm(factors)  # type: ignore[arg-type]
    assert needle in str(info.value)


@pytest.mark.parametrize("wire", [-1, 1.0, True, "0"])
def test_pauli_term_rejects_bad_wire(wire: object) -> None:
    with pytest.raises(ObservableWireError) as info:
        PauliTerm(((wire, "Z"),))  # type: ignore[arg-type]
    assert repr(wire) in str(info.value)


@pytest.mark.parametrize("left", "XYZ")
@pytest.mark.parametrize("right", "XYZ")
def test_multiply_terms_same_wire_matches_dense(left: str, right: str) -> None:
    phase, product = multiply_terms(PauliTerm(((0, left),)), PauliTerm(((0, right),)))
    assert_dense_close(phase * dense_word(product, 1), PAULI[left] @ PAULI[right])
    assert phase in (1, 1j, -1, -1j)


@SETTINGS
@given(words, words)
def test_pauli_term_commutation_matches_dense(a: PauliTerm, b: PauliTerm) -> None:
    da, db = dense_word(a, N_WIRES), dense_word(b, N_WIRES)
    assert a.commutes(b) == np.allclose(da @ db, db @ da)
    if a.qubitwise_commutes(b):
        assert a.commutes(b)
    assert a.qubitwise_commutes(b) == all(dict(a.factors).get(w, p) == p for w, p in b.factors)


# --- construction, canonical form ----------------------------------------------------------


def test_constructors_build_single_paulis_with_unit_coefficient() -> None:
    for make, letter in ((X, "X"), (Y, "Y"), (Z, "Z")):
        assert make(2).terms == ((PauliTerm(((2, letter),)), 1 + 0j),)
    assert I().terms == ((PauliTerm(()), 1 + 0j),)
    assert Z(np.int64(1)) == Z(1)  # type: ignore[arg-type]


@pytest.mark.parametrize("make", [X, Y, Z])
@pytest.mark.parametrize("wire", [-1, -7, 1.5, 2.0, True, False, "3", None])
def test_constructors_reject_bad_wire(make: object, wire: object) -> None:
    with pytest.raises(ObservableWireError) as info:
        make(wire)  # type: ignore[operator]
    assert repr(wire) in str(info.value)


def test_observable_combines_like_terms() -> None:
    obs = 0.5 * Z(0) @ Z(1) + 0.25 * Z(1) @ Z(0) + X(2) + X(2)
    assert obs.terms == ((word("X2"), 2 + 0j), (word("Z0 Z1"), 0.75 + 0j))


def test_observable_cancels_to_zero() -> None:
    zero = X(0) @ Z(1) - Z(1) @ X(0)
    assert zero.terms == ()
    assert zero.wires == ()
    assert zero.max_wire == -1
    assert str(zero) == "0"
    assert Observable.parse("0") == zero
    assert not dense(zero).any()


def test_observable_drops_coefficients_below_relative_tolerance() -> None:
    assert (Z(0) + 1e-15 * X(1)).terms == ((word("Z0"), 1 + 0j),)
    assert (Z(0) + 1e-13 * X(1)).coefficients == (1, 1e-13)
    # relative to the largest coefficient: 1e-3 survives next to 1.0 but 1e3 * 1e-15 does not
    assert (1e3 * Z(0) + 1e-13 * X(1)).n_terms == 1


def test_observable_sorts_identity_first_then_by_weight() -> None:
    obs = Z(0) @ Z(1) + 2.0 + X(3) + X(1)
    assert [str(term) for term, _ in obs.terms] == ["I", "X1", "X3", "Z0 Z1"]
    assert obs == X(1) + Z(0) @ Z(1) + X(3) + 2


def test_observable_direct_construction_rejects_non_canonical_terms() -> None:
    z0 = word("Z0")
    for terms in (
        ((z0, 1 + 0j), (z0, 1 + 0j)),  # like terms not combined
        ((word("Z1"), 1 + 0j), (z0, 1 + 0j)),  # unsorted
        ((z0, 0j),),  # zero coefficient kept
        ((z0, 1),),  # int, not complex
        ((("Z", 0), 1 + 0j),),  # not a PauliTerm
        [(z0, 1 + 0j)],  # not a tuple
    ):
        with pytest.raises(ObservableError, match="canonical"):
            Observable(terms)  # type: ignore[arg-type]


def test_observable_from_terms_rejects_bad_inputs() -> None:
    with pytest.raises(ObservableError, match="'Z0'"):
        Observable.from_terms([("Z0", 1.0)])  # type: ignore[list-item]
    with pytest.raises(ObservableError, match="'abc'"):
        Observable.from_terms([(word("Z0"), "abc")])  # type: ignore[list-item]
    with pytest.raises(ObservableError, match="nan"):
        Observable.from_terms([(word("Z0"), float("nan"))])


def test_observable_is_immutable_and_hashable() -> None:
    obs = Z(0) + X(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        obs.terms = ()  # type: ignore[misc]
    assert {obs, X(1) + Z(0), Z(0)} == {obs, Z(0)}
    assert {obs: 1}[Observable.parse("X1 + Z0")] == 1


# --- arithmetic ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right", "product", "phase"),
    [
        ("X", "Y", "Z", 1j),
        ("Y", "X", "Z", -1j),
        ("Y", "Z", "X", 1j),
        ("Z", "Y", "X", -1j),
        ("Z", "X", "Y", 1j),
        ("X", "Z", "Y", -1j),
    ],
)
def test_observable_same_wire_product_has_phase(
    left: str, right: str, product: str, phase: complex
) -> None:
    make = {"X": X, "Y": Y, "Z": Z}
    obs = make[left](1) @ make[right](1)
    assert obs == phase * make[product](1)
    assert_dense_close(dense(obs), dense(make[left](1)) @ dense(make[right](1)))


@pytest.mark.parametrize("make", [X, Y, Z])
def test_observable_pauli_squares_to_identity(make: object) -> None:
    square = make(2) @ make(2)  # type: ignore[operator]
    assert square == I()
    assert square.identity_coefficient == 1


def test_observable_distinct_wire_product_is_kron_with_wire_zero_leftmost() -> None:
    obs = Z(0) @ X(1)
    assert obs.terms == ((word("Z0 X1"), 1 + 0j),)
    assert_dense_close(dense(obs, 2), np.kron(PAULI["Z"], PAULI["X"]))
    assert_dense_close(dense(X(1), 2), np.kron(PAULI["I"], PAULI["X"]))


def test_observable_scalar_arithmetic_on_both_sides() -> None:
    z = Z(0)
    assert 2 * z == z * 2 == z + z == 2.0 * z
    assert z / 2 == 0.5 * z
    assert (1 + z).identity_coefficient == 1
    assert z + 1 == 1 + z
    assert (z - 1).identity_coefficient == -1
    assert_dense_close(dense(1 - z), np.eye(16) - dense(z))
    assert -z == (-1) * z
    assert z - z == 0 * z
    assert (1j * z).coefficients == (1j,)
    assert sum([Z(0), Z(1), Z(0)]) == 2 * Z(0) + Z(1)


@pytest.mark.parametrize(
    "scalar", [np.float64(2.0), np.float32(2.0), np.int64(2), np.complex128(2.0), 2, 2.0, 2 + 0j]
)
def test_observable_numpy_and_python_scalars_scale_on_both_sides(scalar: object) -> None:
    left = scalar * Z(0)
    right = Z(0) * scalar
    assert isinstance(left, Observable)
    assert left == right == 2 * Z(0)


def test_observable_numpy_float64_times_observable() -> None:
    result = np.float64(2.0) * Z(0)
    assert isinstance(result, Observable)
    assert result.coefficients == (2 + 0j,)


@pytest.mark.parametrize("other", ["a", None, [1.0], True, np.array([1.0, 2.0]), object()])
def test_observable_rejects_non_scalar_operands(other: object) -> None:
    z = Z(0)
    operations: list[Callable[[], object]] = [
        lambda: z * other,
        lambda: other * z,
        lambda: z + other,
        lambda: other + z,
        lambda: z - other,
        lambda: z / other,
        lambda: z @ other,
    ]
    for operation in operations:
        with pytest.raises(TypeError):
            operation()


def test_observable_matmul_rejects_scalars() -> None:
    with pytest.raises(TypeError):
        Z(0) @ 2
    with pytest.raises(TypeError):
        2 @ Z(0)  # type: ignore[operator]


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan"), complex(0, np.inf)])
def test_observable_rejects_non_finite_scalars(bad: complex) -> None:
    operations: list[Callable[[], object]] = [
        lambda: bad * Z(0),
        lambda: Z(0) + bad,
        lambda: Z(0) - bad,
    ]
    for operation in operations:
        with pytest.raises(ObservableError) as info:
            operation()
        assert repr(bad) in str(info.value)


def test_observable_rejects_overflowing_combination() -> None:
    big = 1e308 * Z(0)
    with pytest.raises(ObservableError, match="inf"):
        big + big
    with pytest.raises(ObservableError, match="inf"):
        big * 10


def test_observable_division_by_zero_raises() -> None:
    with pytest.raises(ZeroDivisionError):
        Z(0) / 0


@SETTINGS
@given(observables(complex_coefficients), observables(complex_coefficients))
def test_observable_sum_and_difference_match_dense(a: Observable, b: Observable) -> None:
    assert_dense_close(dense(a + b), dense(a) + dense(b))
    assert_dense_close(dense(a - b), dense(a) - dense(b))
    assert_dense_close(dense(-a), -dense(a))
    assert a + b == b + a


@SETTINGS
@given(observables(complex_coefficients), observables(complex_coefficients))
def test_observable_product_matches_dense(a: Observable, b: Observable) -> None:
    assert_dense_close(dense(a @ b), dense(a) @ dense(b))


@SETTINGS
@given(observables(), complex_coefficients)
def test_observable_scaling_matches_dense(a: Observable, scalar: complex) -> None:
    assert_dense_close(dense(scalar * a), scalar * dense(a))
    assert_dense_close(dense(a + scalar), dense(a) + scalar * np.eye(16))


@SETTINGS
@given(observables(), observables(), observables())
def test_observable_product_distributes_over_sum(
    a: Observable, b: Observable, c: Observable
) -> None:
    assert_dense_close(dense((a + b) @ c), dense(a @ c + b @ c))
    assert_dense_close(dense(c @ (a + b)), dense(c @ a + c @ b))


@SETTINGS
@given(observables())
def test_observable_terms_are_canonical(obs: Observable) -> None:
    keys = [(term.weight, term.factors) for term, _ in obs.terms]
    assert keys == sorted(set(keys))
    assert all(type(c) is complex and c != 0 for c in obs.coefficients)
    assert Observable.from_terms(reversed(obs.terms)) == obs


# --- coefficients, Hermiticity, wires ------------------------------------------------------


def test_observable_product_of_anticommuting_paulis_is_not_hermitian() -> None:
    obs = X(0) @ Y(0)
    assert obs == 1j * Z(0)
    assert not obs.is_hermitian
    with pytest.raises(NonHermitianError) as info:
        obs.real_coefficients()
    assert "Z0" in str(info.value)
    assert "1j" in str(info.value)


def test_observable_real_coefficients_returns_float64_array() -> None:
    obs = Observable.parse("0.5 Z0 Z1 - 1.2 X1 + 3")
    values = obs.real_coefficients()
    assert values.dtype == np.float64
    assert values.shape == (3,)
    np.testing.assert_array_equal(values, [3.0, -1.2, 0.5])
    assert obs.is_hermitian
    # an imaginary part within 1e-12 still counts as real
    assert (Z(0) + 1e-13j * X(0)).is_hermitian


@SETTINGS
@given(observables(st.builds(complex, real_coefficients, st.sampled_from([0.0, 0.5, -2.0]))))
def test_observable_is_hermitian_matches_dense(obs: Observable) -> None:
    matrix = dense(obs)
    assert obs.is_hermitian == np.allclose(matrix, matrix.conj().T, rtol=0.0, atol=1e-10)


def test_observable_reports_wires_identity_and_coefficients() -> None:
    obs = Observable.parse("2.5 - X3 + 0.5 Z0 Z1")
    assert obs.wires == (0, 1, 3)
    assert (obs.max_wire, obs.n_terms) == (3, 3)
    assert obs.identity_coefficient == 2.5 + 0j
    assert obs.coefficients == (2.5, -1, 0.5)
    assert Z(0).identity_coefficient == 0
    assert I().max_wire == -1
    assert I().wires == ()


# --- text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.5 Z0 Z1 - 1.2 X1", 0.5 * Z(0) @ Z(1) - 1.2 * X(1)),
        ("Z0", Z(0)),
        ("-X1 + 2*Y3", -X(1) + 2 * Y(3)),
        ("Z0@Z1", Z(0) @ Z(1)),
        ("1.5", 1.5 * I()),
        ("0.5*X0*X1", 0.5 * X(0) @ X(1)),
        ("1e-3 Z2", 1e-3 * Z(2)),
        ("I", I()),
        ("I0", I()),
        ("2 I3 Z1", 2 * Z(1)),
        ("X0 Y0", 1j * Z(0)),
        ("  Z0   +Z1 ", Z(0) + Z(1)),
        ("+Z0", Z(0)),
        (".5 X0 - 2.", 0.5 * X(0) - 2),
        ("(0.5+1j) Z0", (0.5 + 1j) * Z(0)),
        ("(1j)*X2", 1j * X(2)),
        ("1j X1 - 2.5J Z0", 1j * X(1) - 2.5j * Z(0)),
        ("0", Z(0) - Z(0)),
        ("Z0 + Z0 - 2 Z0 + X1", X(1)),
    ],
)
def test_observable_parse_accepts_examples(text: str, expected: Observable) -> None:
    assert Observable.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "token", "position"),
    [
        ("Z0 + Q1", "'Q1'", 5),
        ("Z", "'Z'", 0),
        ("Z0 Z0Z1", "'Z0Z1'", 3),
        ("0.5 Z0 $ X1", "'$'", 7),
        ("Z0 + + X1", "'+'", 5),
        ("2 3 Z0", "'3'", 2),
        ("X-1", "'X'", 0),
        ("1e999 Z0", "'1e999'", 0),
        ("(1+2) Z0", "'(1+2)'", 0),
        ("(inf) Z0", "'(inf)'", 0),
        ("z0", "'z0'", 0),
        ("Z0 ** Z1", "'*'", 4),
    ],
)
def test_observable_parse_error_names_token_and_position(
    text: str, token: str, position: int
) -> None:
    with pytest.raises(ObservableParseError) as info:
        Observable.parse(text)
    message = str(info.value)
    assert token in message
    assert f"position {position}" in message


@pytest.mark.parametrize("text", ["", "   ", "Z0 +", "Z0 *", "2*"])
def test_observable_parse_error_at_end_of_text(text: str) -> None:
    with pytest.raises(ObservableParseError, match="end"):
        Observable.parse(text)


def test_observable_parse_rejects_non_string() -> None:
    with pytest.raises(ObservableParseError, match="42"):
        Observable.parse(42)  # type: ignore[arg-type]


def test_observable_str_uses_repr_floats_and_signs() -> None:
    assert str(0.5 * Z(0) @ Z(1) - 1.2 * X(1)) == "-1.2 X1 + 0.5 Z0 Z1"
    assert str(Z(0) - X(1) + 0.1) == "0.1 + Z0 - X1"
    assert str(1 / 3 * Z(0)) == f"{1 / 3!r} Z0"
    assert str(X(0) @ Y(0)) == "(1j) Z0"
    assert str(-I()) == "-1.0"


@SETTINGS
@given(observables())
def test_observable_str_round_trips_through_parse(obs: Observable) -> None:
    assert Observable.parse(str(obs)) == obs


@SETTINGS
@given(observables(complex_coefficients))
def test_observable_str_round_trips_complex_coefficients(obs: Observable) -> None:
    assert Observable.parse(str(obs)) == obs


@SETTINGS
@given(observables(complex_coefficients))
def test_observable_repr_evaluates_back(obs: Observable) -> None:
    assert eval(repr(obs), {"Observable": Observable}) == obs  # evaluates our own repr


# --- serialisation -------------------------------------------------------------------------


@SETTINGS
@given(observables(complex_coefficients))
def test_observable_dict_round_trips_through_json(obs: Observable) -> None:
    data = json.loads(json.dumps(obs.to_dict()))
    restored = Observable.from_dict(data)
    assert restored == obs
    assert restored.fingerprint() == obs.fingerprint()


def test_observable_to_dict_layout() -> None:
    data = (0.5 * Z(0) @ Z(1) - 1j * X(2)).to_dict()
    assert data["terms"] == [
        {"factors": [[2, "X"]], "coefficient": [0.0, -1.0]},
        {"factors": [[0, "Z"], [1, "Z"]], "coefficient": [0.5, 0.0]},
    ]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"terms": [{"factors": [[0, "Z"]]}]},
        {"terms": [{"factors": [[0, "Q"]], "coefficient": [1.0, 0.0]}]},
        {"terms": [{"factors": [[0]], "coefficient": [1.0, 0.0]}]},
        {"terms": [{"factors": [[0, "Z"]], "coefficient": ["a", 0.0]}]},
        {"terms": 5},
        {"format": "other/2", "terms": []},
    ],
)
def test_observable_from_dict_rejects_malformed_data(data: dict[str, object]) -> None:
    with pytest.raises(ObservableError):
        Observable.from_dict(data)


def test_observable_fingerprint_identifies_content() -> None:
    a = Observable.parse("0.5 Z0 Z1 - X1")
    b = -X(1) + Z(1) @ Z(0) * 0.5
    assert a.fingerprint() == b.fingerprint()
    assert all(ch in "0123456789abcdef" for ch in a.fingerprint())
    assert len(a.fingerprint()) == hashlib.sha256().digest_size * 2
    assert a.fingerprint() != Observable.parse("0.5 Z0 Z1 - X2").fingerprint()
    assert a.fingerprint() != Observable.parse("0.5 Z0 Z1 - 1j X1").fingerprint()
    # -0.0 and 0.0 are equal, so they must not change the fingerprint either
    negative_zero = Observable.from_terms([(word("Z0"), complex(1.0, -0.0))])
    assert negative_zero.fingerprint() == Z(0).fingerprint()


# --- grouping ------------------------------------------------------------------------------


def test_observable_groups_ising_into_two_groups() -> None:
    obs = Observable.parse("Z0 Z1 + Z1 Z2 + X0 + X1 + X2")
    groups = obs.groups()
    assert [len(group.term_indices) for group in groups] == [3, 2]
    assert groups[0] == MeasurementGroup(((0, "X"), (1, "X"), (2, "X")), (0, 1, 2))
    assert groups[1] == MeasurementGroup(((0, "Z"), (1, "Z"), (2, "Z")), (3, 4))
    assert groups[1].wires == (0, 1, 2)


def test_observable_groups_place_large_coefficients_first() -> None:
    # terms: X0 (0), X1 (1), Z0 Z1 (2); Z0 Z1 is placed first, X1 then opens a second group
    obs = Observable.parse("X0 + 5 Z0 Z1 + 3 X1")
    assert obs.groups() == (
        MeasurementGroup(((0, "Z"), (1, "Z")), (2,)),
        MeasurementGroup(((0, "X"), (1, "X")), (0, 1)),
    )


def test_observable_groups_exclude_identity() -> None:
    obs = Observable.parse("3.0 + Z0")
    assert obs.groups() == (MeasurementGroup(((0, "Z"),), (1,)),)
    assert I().groups() == ()
    assert (Z(0) - Z(0)).groups() == ()


def test_observable_groups_are_cached_and_deterministic() -> None:
    a = Observable.parse("Z0 Z1 + X0 + Y1 + Z2")
    b = Z(2) + Y(1) + X(0) + Z(0) @ Z(1)
    assert a.groups() is a.groups()
    assert a.groups() == b.groups()


@SETTINGS
@given(observables(complex_coefficients))
def test_observable_groups_partition_compatible_terms(obs: Observable) -> None:
    groups = obs.groups()
    non_identity = [i for i, (term, _) in enumerate(obs.terms) if term.weight > 0]
    placed = [i for group in groups for i in group.term_indices]
    assert sorted(placed) == non_identity  # every non-identity term exactly once
    for group in groups:
        assert list(group.term_indices) == sorted(group.term_indices)
        assert [w for w, _ in group.basis] == sorted({w for w, _ in group.basis})
        basis = PauliTerm(group.basis)
        members = [obs.terms[i][0] for i in group.term_indices]
        assert set(group.basis) == {f for term in members for f in term.factors}
        for term in members:
            assert term.qubitwise_commutes(basis)
            assert all(term.qubitwise_commutes(other) for other in members)


def test_observable_hash_is_cached_and_pickles_by_terms() -> None:
    obs = Observable.parse("0.5 Z0 Z1 - X1 + 2")
    assert hash(obs) == hash(obs.terms)
    assert hash(obs) == hash(Observable.parse(str(obs)))
    copy = pickle.loads(pickle.dumps(obs))
    assert copy == obs and hash(copy) == hash(obs) and copy.groups() == obs.groups()
    assert "_hash" not in repr(obs)
